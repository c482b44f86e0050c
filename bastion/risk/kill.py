"""The kill switch (R6.8): one code path, whoever pulls it, in every mode.

Triggers: a loss limit configured ``kill`` (``RiskEngine.on_account``) and the operator
(``bastion kill``, ``bastion flatten --immediate``) both call ``request_kill``, which
persists HALTED at once and leaves a request; the engine's loop then starts this
switch at its next iteration and advances it on every iteration after, in a backtest,
a sim session and a session against a venue alike. It never sleeps: each phase has a
deadline on the engine's clock, and the loop around it decides how time passes.

1. persist HALTED (again; a no-op if the request already did) and journal the start;
2. cancel every working order, Bastion's and any the venue lists, and wait for the
   venue to confirm, retrying after each timeout and journaling an alert for each;
3. flatten with marketable *limit* orders, ``kill_ticks_through`` ticks through the
   touch (clamped into the daily band), never market orders; each round works from a
   fresh venue position snapshot, so a fill during the flatten, or a rejected order,
   is simply part of what the next round sees; the orders flatten the venue's whole
   position in each contract, whoever it is attributed to, and their fills are split
   over the strategies that hold it (the rest to ``UNATTRIBUTED``);
4. confirm flat by a fresh venue snapshot taken after the last round, never by local
   belief; an unknown snapshot is never read as flat;
5. journal every step and return a ``KillReport``. If flat cannot be confirmed, the
   account stays HALTED and the report and the journal say so loudly.

Its orders go through the one send path with the risk engine's reduced checks (they
must reduce what the venue holds, stay inside the band, and respect the order rate).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from bastion.domain.enums import OrderType, Side, TimeInForce
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.market import daily_band
from bastion.domain.order_state import CANCELLABLE, OrderState
from bastion.domain.records import BrokerOrderCreated
from bastion.oms.manager import OrderManager
from bastion.oms.sending import OrderSender
from bastion.risk.engine import RiskEngine
from bastion.risk.persist import note
from bastion.risk.port import OrderPath, OrderRequest
from bastion.risk.states import Scope, StateEvent, TradingState
from bastion.venues.port import VenueQueries

__all__ = ["KillPhase", "KillReport", "KillStep", "KillSwitch"]


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


class KillPhase(StrEnum):
    IDLE = "idle"
    CANCEL = "cancel"
    FLATTEN = "flatten"
    DONE = "done"


class KillSwitch:
    """The kill switch as a state machine: ``start`` it, then ``advance`` it once per
    engine iteration (after the iteration drained the venue's events) until it returns
    its report. ``run`` drives it to the end for callers outside an engine loop."""

    def __init__(
        self,
        engine: RiskEngine,
        oms: OrderManager,
        venue: VenueQueries,
        sender: OrderSender,
    ) -> None:
        self.engine = engine
        self.oms = oms
        self.venue = venue
        self.sender = sender
        self.phase = KillPhase.IDLE
        self._report = KillReport("")
        self._started = engine.clock.now()
        self._before: dict[str, int] = {}
        self._attempt = 0
        self._round = 0
        self._deadline = self._started
        self._next_query = self._started
        self._remaining: set[ClientOrderId] = set()
        self._targets = 0
        self._orders: list[ClientOrderId] = []
        self._canceled_late = False

    @property
    def active(self) -> bool:
        return self.phase not in (KillPhase.IDLE, KillPhase.DONE)

    # -- plumbing ----------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        return self.engine.clock.now()

    def _timeout(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.engine.limits.kill_timeout_seconds)

    def _query_due(self) -> bool:
        """Venue queries no faster than its query limit (CTP: about one a second)."""
        now = self._now()
        if now < self._next_query:
            return False
        self._next_query = now + dt.timedelta(
            seconds=1.0 / self.venue.rate_limits.queries_per_second
        )
        return True

    def _step(self, name: str, ok: bool, detail: str, *, alert: bool = False) -> None:
        self._report.steps.append(KillStep(name, ok, detail))
        kind = "risk.kill.alert" if alert or not ok else "risk.kill.step"
        self.engine.store.record([note(self._now(), kind, f"kill switch {name}: {detail}")])

    # -- the path ---------------------------------------------------------------------------
    def start(self, reason: str, actor: str = "operator") -> None:
        self._report = KillReport(reason)
        self._started = self._next_query = self._now()
        self._before = self.venue.counters.as_dict()
        if self.engine.pending_kill() is None:
            self.engine.request_kill(reason, actor)
        else:
            self.engine.board.reload()
            if self.engine.board.state(Scope.account()) is not TradingState.HALTED:
                # Someone loosened the account since the request: a kill is HALTED.
                self.engine.board.apply(Scope.account(), StateEvent.KILL, reason, actor=actor)
        self._step("1 halt", ok=True, detail=f"HALTED persisted ({reason})")
        self._attempt = 0
        self._round = 0
        self._begin_cancel()

    def advance(self) -> KillReport | None:
        """One step of work; the report once the switch has finished, else ``None``."""
        if self.phase is KillPhase.CANCEL:
            self._advance_cancel()
        if self.phase is KillPhase.FLATTEN:
            self._advance_flatten()
        if self.phase is KillPhase.DONE:
            return self._report
        return None

    def run(
        self,
        reason: str,
        actor: str = "operator",
        *,
        drain: Callable[[], object],
        wait: Callable[[float], None],
        poll_seconds: float = 0.05,
    ) -> KillReport:
        """Start and drive the switch to its end: ``drain`` applies the venue's events,
        ``wait`` lets time pass (``time.sleep`` live, a simulated clock in tests)."""
        self.start(reason, actor)
        while True:
            drain()
            report = self.advance()
            if report is not None:
                return report
            wait(poll_seconds)

    # -- 2. cancel -------------------------------------------------------------------------
    def _working_ids(self) -> set[ClientOrderId] | None:
        ours = {
            coid
            for coid, order in self.oms.book.broker_orders.items()
            if order.state in CANCELLABLE
        }
        theirs = self._venue_open()
        return None if theirs is None else ours | theirs

    def _venue_open(self) -> set[ClientOrderId] | None:
        snapshot = self.venue.open_orders()
        if not snapshot.is_known or snapshot.value is None:
            return None
        return {r.client_order_id for r in snapshot.value}

    def _begin_cancel(self) -> None:
        self.phase = KillPhase.CANCEL
        self._attempt += 1
        working = self._working_ids()
        if working is None:
            ours = {c for c, o in self.oms.book.broker_orders.items() if o.state in CANCELLABLE}
            if not ours:
                self._step(
                    "2 cancel",
                    ok=False,
                    detail="no working orders known (venue open orders unknown)",
                )
                self._begin_flatten()
                return
            working = ours
        if not working:
            self._step("2 cancel", ok=True, detail="no working orders")
            self._begin_flatten()
            return
        if self._attempt == 1:
            self._remaining = set(working)
            self._targets = len(working)
        for coid in sorted(self._remaining):
            order = self.oms.book.broker_order(coid)
            if order is None or not order.is_terminal:
                self.sender.cancel(coid, "kill switch")
        self._deadline = self._now() + self._timeout()

    def _advance_cancel(self) -> None:
        if self._query_due():
            open_now = self._venue_open()
            if open_now is not None:
                self._remaining.intersection_update(open_now)
                if not self._remaining:
                    self._step(
                        "2 cancel",
                        ok=True,
                        detail=f"{self._targets} working orders canceled, confirmed by the venue"
                        f" (attempt {self._attempt})",
                    )
                    self._begin_flatten()
                    return
        if self._now() < self._deadline:
            return
        attempts = self.engine.limits.kill_attempts
        self._step(
            "2 cancel",
            ok=False,
            detail=f"attempt {self._attempt}/{attempts}: {len(self._remaining)} cancels not"
            f" confirmed within {self.engine.limits.kill_timeout_seconds:g} s"
            + ("; retrying" if self._attempt < attempts else ""),
            alert=True,
        )
        if self._attempt < attempts:
            self._begin_cancel()
            return
        self._report.unconfirmed_cancels = sorted(self._remaining)
        self._begin_flatten()

    # -- 3. flatten ------------------------------------------------------------------------
    def _begin_flatten(self) -> None:
        self.phase = KillPhase.FLATTEN
        self._round = 0
        self._next_round()

    def _next_round(self) -> None:
        attempts = self.engine.limits.kill_attempts
        if self._round >= attempts:
            self._step("3 flatten", ok=False, detail=f"still not flat after {attempts} rounds")
            self._confirm()
            return
        self._round += 1
        held = self._fresh_positions()
        self._orders = []
        self._canceled_late = False
        self._deadline = self._now() + self._timeout()
        if held is None:
            self._step("3 flatten", ok=False, detail="venue positions unknown; waiting")
            return
        if not held:
            self._step("3 flatten", ok=True, detail=f"nothing held (round {self._round})")
            self._confirm()
            return
        sent = [self._send_flatten(cid, lots) for cid, lots in sorted(held.items())]
        self._orders = [coid for coid in sent if coid is not None]

    def _settled(self) -> bool:
        return all(
            (o := self.oms.book.broker_order(c)) is not None and o.is_terminal for c in self._orders
        )

    def _advance_flatten(self) -> None:
        if not self._orders:  # positions were unknown, or every order was refused
            if self._now() >= self._deadline:
                self._next_round()
            return
        if self._settled():
            self._after_round()
            return
        if self._now() < self._deadline:
            return
        if not self._canceled_late:
            for coid in self._orders:
                order = self.oms.book.broker_order(coid)
                if order is not None and order.state in CANCELLABLE:
                    self.sender.cancel(coid, "kill switch flatten timed out")
            self._canceled_late = True
            self._deadline = self._now() + self._timeout()
            return
        self._after_round()

    def _after_round(self) -> None:
        for coid in self._orders:
            order = self.oms.book.broker_order(coid)
            if order is not None and order.state is OrderState.REJECTED:
                self._step(
                    "3 flatten",
                    ok=False,
                    detail=f"round {self._round}: {coid} rejected by the venue"
                    f" ({order.reject_reason}); the next round retries from a fresh snapshot",
                    alert=True,
                )
        self._next_round()

    def _fresh_positions(self) -> dict[ContractId, int] | None:
        snapshot = self.venue.positions()
        taken = snapshot.taken_at
        if not snapshot.is_known or snapshot.value is None or taken is None:
            return None
        if taken < self._started:
            return None  # older than the kill: never trusted
        return {cid: rec.net for cid, rec in snapshot.value.items() if rec.net}

    def _send_flatten(self, cid: ContractId, lots: int) -> ClientOrderId | None:
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
        coid = ClientOrderId(f"KILL-{stamp}-{self._round}-{cid}")
        n = 1
        while self.oms.book.broker_order(coid) is not None:  # a second kill at the same instant
            n += 1
            coid = ClientOrderId(f"KILL-{stamp}-{self._round}-{cid}-{n}")
        created = BrokerOrderCreated(
            timestamp=self._now(),
            client_order_id=coid,
            contract_id=cid,
            side=side,
            quantity=abs(lots),
            order_type=OrderType.LIMIT,
            time_in_force=TimeInForce.IOC,
            limit_ticks=price,
            venue=self.sender.venue_name,
            reference_ticks=touch,
            attribute_to_holders=True,
        )
        decision = engine.check_flatten(created, held=lots)
        result = self.sender.send(
            OrderRequest(created, OrderPath.KILL, instrument, reduces_position=True), decision
        )
        if not result.written:
            self._step("3 flatten", ok=False, detail=f"{cid}: refused: {result.message}")
            return None
        self._step(
            "3 flatten",
            ok=result.sent,
            detail=f"round {self._round}: {side} {abs(lots)} {cid} limit"
            f" {spec.price_text(price)} ({through} ticks through the touch"
            f" {spec.price_text(touch)})"
            + ("" if result.sent else f"; not taken: {result.message}"),
        )
        return coid

    # -- 4. confirm --------------------------------------------------------------------------
    def _confirm(self) -> None:
        held = self._fresh_positions()
        report = self._report
        if held is None:
            report.flat_confirmed = False
            self._step("4 confirm", ok=False, detail="no fresh venue snapshot: flat NOT confirmed")
        else:
            report.residual = held
            report.flat_confirmed = not held
            if held:
                shown = ", ".join(f"{c} {q:+d}" for c, q in sorted(held.items()))
                self._step("4 confirm", ok=False, detail=f"venue still holds {shown}")
            else:
                self._step("4 confirm", ok=True, detail="fresh venue snapshot shows no position")
        after = self.venue.counters.as_dict()
        report.api_calls = {k: after[k] - self._before.get(k, 0) for k in after}
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
        self.phase = KillPhase.DONE
