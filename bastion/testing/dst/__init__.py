"""Deterministic simulation tests (DST), as FoundationDB and TigerBeetle test themselves.

The real engine from the kernel (``bastion.engine.kernel.build_engine``), the sim venue
and a seeded fault schedule run in one process on a simulated clock; the store is an
in-memory SQLite database shared by name, in live durability, so a crash drops the
engine and all its memory and a new engine rebuilds from the journal and recovers
against the same venue. After every step an auditor checks the invariants; a failing
schedule replays exactly and shrinks to a short one.

- ``schedule``: faults, schedules, the generator (``generate(seed)``);
- ``faults``: what each fault does to the world;
- ``door``: the venue as the engine sees it (every order passes the auditor first);
- ``invariants``: the auditor and what it checks;
- ``runner``: the world and one run (``run(schedule)``);
- ``shrink``: delta debugging of a failing schedule.

``bench/dst.py`` runs many seeds and prints the figures; ``docs/dst.md`` explains how to
read a failure and replay it.
"""
