"""Bastion: a fail-closed execution system for systematic futures trading."""

__version__ = "0.1.0"
__all__ = ["__version__"]
