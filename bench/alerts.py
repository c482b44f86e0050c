"""What alerts and the heartbeat cost the engine loop, and how fast an alert arrives.

- ``beat_throttled_ns``: ``HeartbeatWriter.beat`` when the interval has not passed (the
  common case: one monotonic clock read);
- ``beat_write_us``: a heartbeat written (temporary file, rename);
- ``send_us``: ``Notifier.send`` of an alert (filter, queue put), what the loop pays;
- ``feed_catch_up_us_per_entry``: ``AlertFeed.catch_up`` over journal entries that
  alert nothing (the usual entry);
- ``delivery_ms_p50`` / ``p95``: ``send`` to arrival at a loopback webhook receiver
  through apprise's ``json://`` target and the worker thread.

    python bench/alerts.py --alerts 200

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

from bastion.clock import utc
from bastion.config import AlertsConfig
from bastion.domain.records import Note
from bastion.ops.alerts import AlertFeed, AlertKind, Notifier, Outbox, make_alert
from bastion.ops.alerts.notify import AppriseTransport, targets_of
from bastion.ops.heartbeat import HeartbeatWriter
from bastion.secrets import Redactor
from bastion.store.sqlite import SqliteStore, StoreMode
from bastion.testing.webhook_receiver import WebhookReceiver


def _per_call(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=200)
    args = parser.parse_args()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, WebhookReceiver() as receiver:
        journal = Path(tmp) / "journal.db"
        writer = HeartbeatWriter(journal, "bench", min_interval=3600)
        writer.beat(0)
        out["beat_throttled_ns"] = round(_per_call(writer.beat, 200_000) * 1e9, 1)
        eager = HeartbeatWriter(journal, "bench", min_interval=0)
        out["beat_write_us"] = round(_per_call(eager.beat, 2_000) * 1e6, 1)

        settings = AlertsConfig.model_validate(
            {
                "targets": [{"name": "r", "url": receiver.url("json")}],
                "rate_limit_count": args.alerts * 2,
                "queue_size": args.alerts * 2,
            }
        )
        targets = targets_of(settings, {})
        notifier = Notifier(
            "bench",
            settings,
            targets=targets,
            transport=AppriseTransport(targets),
            outbox=Outbox(Path(tmp) / "journal-alerts.db"),
            redactor=Redactor(),
        )
        sent_at: dict[str, float] = {}
        t0 = utc(2026, 1, 1)

        def send(i: int) -> None:
            alert = make_alert(
                AlertKind.MARGIN_THRESHOLD, f"bench {i}", profile="bench", time=t0, key=f"b{i}"
            )
            sent_at[f"bench {i}"] = time.perf_counter()
            notifier.send(alert)

        out["send_us"] = round(_per_call(send, args.alerts) * 1e6, 2)
        got = receiver.wait_for(lambda rs: len(rs) >= args.alerts, timeout=300)
        arrived = time.perf_counter()
        # arrival times are not stamped by the receiver; use the order of arrival and the
        # total span as an upper bound per alert, plus one single alert timed alone
        out["delivery_total_s"] = round(arrived - min(sent_at.values()), 3)
        out["delivered"] = len(got)
        singles = []
        for i in range(20):
            key = f"single {i}"
            alert = make_alert(
                AlertKind.MARGIN_THRESHOLD, key, profile="bench", time=t0, key=f"s{i}"
            )
            start = time.perf_counter()
            notifier.send(alert)
            receiver.wait_for(lambda rs, key=key: any(key in r.title for r in rs), timeout=60)
            singles.append((time.perf_counter() - start) * 1000)
        singles.sort()
        out["delivery_ms_p50"] = round(statistics.median(singles), 2)
        out["delivery_ms_p95"] = round(singles[int(len(singles) * 0.95) - 1], 2)
        notifier.close(10)

        store = SqliteStore(Path(tmp) / "j2.db", mode=StoreMode.BACKTEST)
        store.record(
            [
                Note(timestamp=t0 + dt.timedelta(seconds=i), kind="manual_order", text="x")
                for i in range(20_000)
            ]
        )

        class _Null:
            def send(self, alert: object) -> None:
                return None

        feed = AlertFeed("bench", _Null())
        start = time.perf_counter()
        feed.catch_up(store)
        out["feed_catch_up_us_per_entry"] = round((time.perf_counter() - start) / 20_000 * 1e6, 2)
        store.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
