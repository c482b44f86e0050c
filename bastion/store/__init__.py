"""The journal and its projections: SQLite by default."""

from bastion.store.sqlite import JournalEntry, SqliteStore, StoreMode

__all__ = ["JournalEntry", "SqliteStore", "StoreMode"]
