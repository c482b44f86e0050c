"""Backtests and simulated sessions: the kernel's engine driven by bars on a simulated
clock (``runner``, ``build``, ``session``), P&L from fills and marks (``pnl``), and the
analytics (``analytics``)."""
