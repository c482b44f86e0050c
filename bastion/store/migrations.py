"""Versioned schema migrations. Append new versions; never edit an applied one."""

from __future__ import annotations

from typing import Final

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: Final[tuple[tuple[int, str, str], ...]] = (
    (
        1,
        "journal and projections",
        """
        CREATE TABLE journal (
            seq            INTEGER PRIMARY KEY,       -- monotonic, gap-free
            ts_us          INTEGER NOT NULL,          -- UTC microseconds since the epoch
            correlation_id TEXT    NOT NULL DEFAULT '',
            event_type     TEXT    NOT NULL,
            payload        BLOB    NOT NULL           -- JSON of the record
        );
        CREATE INDEX journal_type ON journal (event_type);
        CREATE TABLE fills_seen (
            exec_id TEXT PRIMARY KEY,                 -- a fill is applied at most once
            seq     INTEGER NOT NULL REFERENCES journal (seq)
        );
        CREATE TABLE live_orders (
            level    TEXT NOT NULL,                   -- instrument | contract | broker
            order_id TEXT NOT NULL,
            payload  BLOB NOT NULL,
            PRIMARY KEY (level, order_id)
        );
        CREATE TABLE order_history (
            level    TEXT NOT NULL,
            order_id TEXT NOT NULL,
            payload  BLOB NOT NULL,
            PRIMARY KEY (level, order_id)
        );
        CREATE TABLE positions_strategy (
            strategy_id   TEXT NOT NULL,
            instrument_id TEXT NOT NULL,
            quantity      INTEGER NOT NULL,
            PRIMARY KEY (strategy_id, instrument_id)
        );
        CREATE TABLE positions_contract (
            instrument_id TEXT NOT NULL,
            contract_id   TEXT NOT NULL,
            quantity      INTEGER NOT NULL,
            PRIMARY KEY (instrument_id, contract_id)
        );
        """,
    ),
    (
        2,
        "key-value state that must survive restarts (risk state, day start equity)",
        """
        CREATE TABLE kv_state (
            key        TEXT PRIMARY KEY,
            value      TEXT NOT NULL,
            updated_us INTEGER NOT NULL
        );
        """,
    ),
    (
        3,
        "targets written by strategies, with each parameter set's contribution",
        """
        CREATE TABLE targets (
            strategy_id        TEXT NOT NULL,
            instrument_id      TEXT NOT NULL,
            payload            BLOB NOT NULL,     -- the Target as JSON
            contributions      BLOB NOT NULL,     -- JSON list of each parameter set's share
            written_us         INTEGER NOT NULL,
            PRIMARY KEY (strategy_id, instrument_id)
        );
        CREATE TABLE target_history (
            id            INTEGER PRIMARY KEY,
            strategy_id   TEXT NOT NULL,
            instrument_id TEXT NOT NULL,
            payload       BLOB NOT NULL,
            contributions BLOB NOT NULL,
            written_us    INTEGER NOT NULL
        );
        """,
    ),
)

SCHEMA_VERSION: Final = MIGRATIONS[-1][0]
