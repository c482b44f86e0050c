"""The kill switch (R6.8): one code path, whoever pulls it.

Triggers: a loss limit configured ``kill`` (``RiskEngine.on_account``) and the operator
(``bastion kill --reason TEXT``) both call ``request_kill``, which persists HALTED at
once and leaves a request; the engine's loop then runs ``KillSwitch.run``. It:

1. persists HALTED (again; a no-op if the request already did) and journals the start;
2. cancels every working order, ours and any the venue lists, and waits for the venue
   to confirm, retrying on timeouts and journaling an alert for each;
3. flattens with marketable *limit* orders, ``kill_ticks_through`` ticks through the
   touch (clamped into the daily band), never market orders; each round works from a
   fresh venue position snapshot, so a fill during the flatten, or a rejected order,
   is simply part of what the next round sees;
4. confirms flat by a fresh venue snapshot taken after the last round, never by local
   belief; an unknown snapshot is never read as flat;
5. journals every step and returns a ``KillReport``. If flat cannot be confirmed, the
   account stays HALTED and the report and the journal say so loudly.

The kill switch's orders pass the risk engine's reduced checks (they must reduce what
the venue holds, stay inside the band, and respect the venue's order rate).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.market import daily_band
from bastion.domain.order_state import CANCELLABLE, OrderState
from bastion.domain.records import BrokerOrderCreated
from bastion.oms.manager import OrderManager
from bastion.risk.engine import RiskEngine
from bastion.risk.persist import note
from bastion.venues.port import VenuePort

__all__ = ["KillReport", "KillStep", "KillSwitch"]


@dataclass(frozen=True, slots=True)
class KillStep:
    name: str
    ok: bool
    detail: str


@dataclass(slots=True)
class KillReport:
    reason: str
    steps: list[KillStep] = field(default_factory=list)
    flat_confirmed: bool = False
    residual: dict[ContractId, int] = field(default_factory=dict)
    """What the last venue snapshot still showed (empty when flat was confirmed)."""
    unconfirmed_cancels: list[ClientOrderId] = field(default_factory=list)
    api_calls: dict[str, int] = field(default_factory=dict)

    @property
    def headline(self) -> str:
        if self.flat_confirmed:
            return "KILL SWITCH: flat confirmed by a fresh venue snapshot; trading stays HALTED"
        held = ", ".join(f"{cid} {lots:+d}" for cid, lots in sorted(self.residual.items()))
        return (
            "KILL SWITCH: NOT FLAT - flat could not be confirmed"
            + (f" (venue still shows {held})" if held else " (no usable venue snapshot)")
            + "; trading stays HALTED; act now: see docs/risk.md"
        )

    def lines(self) -> list[str]:
        out = [self.headline, f"reason: {self.reason}"]
        out += [f"  [{'ok' if s.ok else 'FAILED'}] {s.name}: {s.detail}" for s in self.steps]
        if self.unconfirmed_cancels:
            out.append(f"  cancels not confirmed: {', '.join(self.unconfirmed_cancels)}")
        out.append("  order API calls: " + ", ".join(f"{k}={v}" for k, v in self.api_calls.items()))
        return out


class KillSwitch:
    def __init__(
        self,
        engine: RiskEngine,
        oms: OrderManager,
        venue: VenuePort,
        *,
        wait: Callable[[float], None],
    ) -> None:
        """``wait(seconds)`` lets time pass: ``time.sleep`` live, the sim clock in tests."""
        self.engine = engine
        self.oms = oms
        self.venue = venue
        self._wait = wait
        self._report = KillReport("")
        self._started = engine.clock.now()

    # -- plumbing ----------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        return self.engine.clock.now()

    def _pump(self) -> None:
        for event in self.venue.poll_events():
            self.oms.apply(event)

    def _step(self, name: str, ok: bool, detail: str, *, alert: bool = False) -> None:
        self._report.steps.append(KillStep(name, ok, detail))
        kind = "risk.kill.alert" if alert or not ok else "risk.kill.step"
        self.engine.store.record([note(self._now(), kind, f"kill switch {name}: {detail}")])

    def _cancel(self, coid: ClientOrderId) -> None:
        """Journal the cancel request (for orders we know), then send it."""
        order = self.oms.book.broker_order(coid)
        if (
            order is not None
            and order.state in CANCELLABLE
            and order.state is not OrderState.CANCEL_PENDING
        ):
            self.oms.request_cancel(coid, self._now())
        self.venue.cancel(coid)

    def _wait_until(self, done: Callable[[], bool]) -> bool:
        """Pump events until ``done()`` or the timeout passes."""
        timeout = self.engine.limits.kill_timeout_seconds
        # poll no faster than the venue's query limit (CTP: about one query a second)
        slice_ = max(timeout / 20, 1.0 / self.venue.rate_limits.queries_per_second)
        waited = 0.0
        while True:
            self._pump()
            if done():
                return True
            if waited >= timeout:
                return False
            self._wait(slice_)
            waited += slice_

    # -- the path ---------------------------------------------------------------------------
    def run(self, reason: str, actor: str = "operator") -> KillReport:
        self._report = report = KillReport(reason)
        self._started = self._now()
        counters = self.venue.counters
        before = counters.as_dict()
        if self.engine.pending_kill() is None:
            self.engine.request_kill(reason, actor)
        else:
            self.engine.board.reload()
        self._step("1 halt", ok=True, detail=f"HALTED persisted ({reason})")
        self._cancel_all()
        self._flatten()
        self._confirm()
        after = counters.as_dict()
        report.api_calls = {k: after[k] - before[k] for k in after}
        outcome = report.headline
        self.engine.store.record(
            [
                note(
                    self._now(),
                    "risk.kill.result" if report.flat_confirmed else "risk.kill.alert",
                    outcome,
                    flat=str(report.flat_confirmed).lower(),
                    residual=";".join(f"{c}={q}" for c, q in sorted(report.residual.items())),
                    **report.api_calls,
                )
            ]
        )
        self.engine.clear_kill(outcome)
        return report

    def _working_ids(self) -> set[ClientOrderId]:
        ours = {
            coid
            for coid, order in self.oms.book.broker_orders.items()
            if order.state in CANCELLABLE
        }
        snapshot = self.venue.open_orders()
        theirs = (
            {r.client_order_id for r in snapshot.value} if snapshot.value is not None else set()
        )
        return ours | theirs

    def _venue_open(self) -> set[ClientOrderId] | None:
        snapshot = self.venue.open_orders()
        if not snapshot.is_known or snapshot.value is None:
            return None
        return {r.client_order_id for r in snapshot.value}

    def _cancel_all(self) -> None:
        targets = self._working_ids()
        if not targets:
            open_now = self._venue_open()
            detail = "no working orders" + (
                "" if open_now is not None else " known (venue open orders unknown)"
            )
            self._step("2 cancel", ok=open_now is not None, detail=detail)
            return
        remaining: set[ClientOrderId] = set(targets)
        attempts = self.engine.limits.kill_attempts
        for attempt in range(1, attempts + 1):
            for coid in sorted(remaining):
                self._cancel(coid)

            def confirmed() -> bool:
                open_now = self._venue_open()
                if open_now is None:
                    return False
                remaining.intersection_update(open_now)
                return not remaining

            if self._wait_until(confirmed):
                self._step(
                    "2 cancel",
                    ok=True,
                    detail=f"{len(targets)} working orders canceled, confirmed by the venue"
                    f" (attempt {attempt})",
                )
                return
            self._step(
                "2 cancel",
                ok=False,
                detail=f"attempt {attempt}/{attempts}: {len(remaining)} cancels not confirmed"
                f" within {self.engine.limits.kill_timeout_seconds:g} s"
                + ("; retrying" if attempt < attempts else ""),
                alert=True,
            )
        self._report.unconfirmed_cancels = sorted(remaining)

    def _flatten(self) -> None:
        attempts = self.engine.limits.kill_attempts
        for round_ in range(1, attempts + 1):
            held = self._fresh_positions()
            if held is None:
                self._step("3 flatten", ok=False, detail="venue positions unknown; waiting")
                self._wait(self.engine.limits.kill_timeout_seconds)
                continue
            if not held:
                self._step("3 flatten", ok=True, detail=f"nothing held (round {round_})")
                return
            sent = [self._send_flatten(cid, lots, round_) for cid, lots in sorted(held.items())]
            orders = [coid for coid in sent if coid is not None]

            def settled(orders: list[ClientOrderId] = orders) -> bool:
                return all(
                    (o := self.oms.book.broker_order(c)) is not None and o.is_terminal
                    for c in orders
                )

            if not self._wait_until(settled):
                for coid in orders:
                    order = self.oms.book.broker_order(coid)
                    if order is not None and order.state in CANCELLABLE:
                        self._cancel(coid)
                self._wait_until(settled)
            for coid in orders:
                order = self.oms.book.broker_order(coid)
                if order is not None and order.state is OrderState.REJECTED:
                    self._step(
                        "3 flatten",
                        ok=False,
                        detail=f"round {round_}: {coid} rejected by the venue"
                        f" ({order.reject_reason}); the next round retries from a fresh snapshot",
                        alert=True,
                    )
        self._step("3 flatten", ok=False, detail=f"still not flat after {attempts} rounds")

    def _fresh_positions(self) -> dict[ContractId, int] | None:
        snapshot = self.venue.positions()
        taken = snapshot.taken_at
        if not snapshot.is_known or snapshot.value is None or taken is None:
            return None
        if taken < self._started:
            return None  # older than the kill: never trusted
        return {cid: rec.net for cid, rec in snapshot.value.items() if rec.net}

    def _send_flatten(self, cid: ContractId, lots: int, round_: int) -> ClientOrderId | None:
        engine = self.engine
        side = Side.SELL if lots > 0 else Side.BUY
        instrument = engine.instrument_of(cid)
        spec = engine.specs.get(instrument)
        quote = engine.market.quote(cid)
        through = engine.limits.kill_ticks_through
        touch = None
        if quote is not None:
            touch = quote.bid_ticks if side is Side.SELL else quote.ask_ticks
            touch = touch if touch is not None else quote.last_ticks
        if spec is None or touch is None or quote is None:
            self._step("3 flatten", ok=False, detail=f"{cid}: no price to flatten {lots:+d} at")
            return None
        price = touch - through if side is Side.SELL else touch + through
        band = daily_band(quote, spec)
        if band is not None:
            price = min(max(price, band[0]), band[1])
        stamp = self._started.strftime("%Y%m%dT%H%M%S%f")
        coid = ClientOrderId(f"KILL-{stamp}-{round_}-{cid}")
        n = 1
        while self.oms.book.broker_order(coid) is not None:  # a second kill at the same instant
            n += 1
            coid = ClientOrderId(f"KILL-{stamp}-{round_}-{cid}-{n}")
        created = BrokerOrderCreated(
            timestamp=self._now(),
            client_order_id=coid,
            contract_id=cid,
            side=side,
            quantity=abs(lots),
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.IOC,
            limit_ticks=price,
            venue=self.venue.name,
            reference_ticks=touch,
        )
        decision = engine.check_flatten(created, held=lots)
        if not decision.allowed:
            self._step("3 flatten", ok=False, detail=f"{cid}: refused: {decision.message}")
            return None
        order = self.oms.write_ahead(created)
        self.venue.submit(order)
        self.oms.mark_submitted(coid, self._now())
        self._step(
            "3 flatten",
            ok=True,
            detail=f"round {round_}: {side} {abs(lots)} {cid} limit {price} ticks"
            f" ({through} through the touch {touch})",
        )
        return coid

    def _confirm(self) -> None:
        self._pump()
        held = self._fresh_positions()
        report = self._report
        if held is None:
            report.flat_confirmed = False
            self._step("4 confirm", ok=False, detail="no fresh venue snapshot: flat NOT confirmed")
            return
        report.residual = held
        report.flat_confirmed = not held
        if held:
            shown = ", ".join(f"{c} {q:+d}" for c, q in sorted(held.items()))
            self._step("4 confirm", ok=False, detail=f"venue still holds {shown}")
        else:
            self._step("4 confirm", ok=True, detail="fresh venue snapshot shows no position")
