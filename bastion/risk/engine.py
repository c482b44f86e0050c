"""The risk engine: every broker order on every path passes ``RiskEngine.check`` (R6).

It is independent of strategy code and reads only: the book (positions and working
orders), a ``MarketView``, the contract specs, its clock, and its own persisted state
(trading states, run-time limits, loss starts, risk level, kill request), which it
re-reads from the store at most every ``refresh_seconds`` so an operator's command from
another process takes effect.

Which checks run depends on the order (``docs/risk.md`` has the table):
- every order: contract known, infeasible orders, the rate bucket;
- the kill switch's orders (path KILL) must reduce, and also meet the daily band;
  nothing else stops them (R6.8: flattening passes reduced checks, never none);
- every other order: trading state, risk level, the instrument's calendar, market
  guards, order size, notional, price distance and band; and, unless it only reduces,
  a usable rate for its currency, the expiry guard, position limits and margin.

Money is in the account's base currency (``fx``, ``bastion.domain.fx``): notional and
margin are converted at the rate of each contract's currency, and an instrument whose
currency has no usable rate (missing, or stale on the account's trading day) opens
nothing; equity (loss limits, margin use) comes in the base currency from the engine.
While the engine cannot value equity in the base currency (``on_equity_unknown``: a
held currency or the venue account's currency without a usable rate, no account
snapshot), loss limits and margin cannot be checked, so the account opens nothing
(reducing orders and the kill switch still trade) until equity is valued again.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bastion.clock import Clock
from bastion.config import RiskConfig
from bastion.domain.book import Book
from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.fx import FxTable
from bastion.domain.ids import ContractId, InstrumentId
from bastion.domain.market import MarketView
from bastion.domain.reasons import Reason
from bastion.domain.records import BrokerOrderCreated
from bastion.errors import ConfigError, DataError
from bastion.risk.board import StateBoard, StateChange
from bastion.risk.bucket import TokenBucket
from bastion.risk.checks import (
    Check,
    Exposure,
    check_band,
    check_infeasible,
    check_margin,
    check_notional,
    check_order_size,
    check_position,
    check_price_distance,
    reduces,
)
from bastion.risk.expiry import ExpiryCalendar, ExpiryWindow, expiry_window
from bastion.risk.exposure import ExposureView, HasBook
from bastion.risk.guards import MarketGuards
from bastion.risk.kill_request import clear_kill, pending_kill, request_kill
from bastion.risk.level import RiskLevel, load_risk_level, save_risk_level
from bastion.risk.limits import LimitBook
from bastion.risk.loss import Breach, LossTracker, utc_trading_day
from bastion.risk.margin_monitor import ReduceIntent, plan_margin_reduction
from bastion.risk.persist import RiskStore, note
from bastion.risk.port import OrderPath, OrderRequest, RiskDecision
from bastion.risk.states import SEVERITY, TRANSITIONS, Scope, StateEvent, TradingState
from bastion.venues.port import RateLimits

__all__ = ["AccountCheck", "HasBook", "RiskEngine"]

DEFAULT_RATE = RateLimits(orders_per_second=50.0, order_burst=10)
"""When neither the profile nor the venue declares one (IB allows about 50 msg/s)."""


@dataclass(frozen=True, slots=True)
class AccountCheck:
    """What one account update found: loss breaches, and margin to shed."""

    breaches: list[Breach] = field(default_factory=list)
    utilisation: Decimal | None = None
    reductions: list[ReduceIntent] = field(default_factory=list)


_QUIET = AccountCheck()
"""No breach, and margin use far enough below the high mark not to compute it exactly."""


class RiskEngine:
    def __init__(
        self,
        config: RiskConfig,
        specs: Mapping[InstrumentId, ContractSpec],
        *,
        ledger: HasBook,
        store: RiskStore,
        clock: Clock,
        market: MarketView,
        venue_limits: Mapping[str, RateLimits] | None = None,
        trading_day: Callable[[dt.datetime], dt.date] = utc_trading_day,
        previous_day: Callable[[dt.date], dt.date] | None = None,
        refresh_seconds: float | None = 1.0,
        fx: FxTable | None = None,
        instrument_day: Callable[[InstrumentId, dt.datetime], dt.date] | None = None,
        expiry: ExpiryCalendar | None = None,
    ) -> None:
        """``refresh_seconds``: re-read persisted state at most this often on the order
        path; ``None`` when the caller refreshes (the engine loop does, whenever another
        process changed the store). ``fx``: rates to the base currency (default: every
        contract in the first spec's currency, any other refused). ``instrument_day``:
        each instrument's trading day (raises ``DataError`` when its calendar does not
        know it: its orders are refused). ``expiry``: contract dates for the expiry
        guard (``None``: no guard, as in unit tests of other checks)."""
        self.specs = dict(specs)
        self.market = market
        self.store = store
        self.clock = clock
        self._ledger = ledger
        self._venue_limits = dict(venue_limits or {})
        self._refresh_every = (
            None if refresh_seconds is None else dt.timedelta(seconds=refresh_seconds)
        )
        self._kill: dict[str, Any] | None = None
        self._kill_loaded = False
        self._refreshed_at = clock.now()
        self.board = StateBoard(store, clock)
        self.limit_book = LimitBook(config, store)
        self.loss = LossTracker(store, trading_day, previous_day)
        self.guards = MarketGuards(market, store)
        self.level, self.level_source = load_risk_level(store)
        self.limits_error: str | None = None
        self.equity: Decimal | None = None
        self.equity_unknown: str | None = None
        """Why equity cannot be valued now (openings refused), or ``None``."""
        self._equity_alerted: dt.date | None = None
        self.denials: Counter[str] = Counter()
        self._buckets: dict[str, TokenBucket] = {}
        self._instruments: dict[ContractId, InstrumentId] = {}
        self.trading_day = trading_day
        self.instrument_day = instrument_day
        self.expiry = expiry
        self._expiry_day: dt.date | None = None
        self._expiry_seen: dict[ContractId, ExpiryWindow | str | None] = {}
        self._alerted: set[ContractId] = set()
        """Contracts alerted today (both sets start empty each account trading day)."""
        self.exposure = ExposureView(
            ledger,
            self.specs,
            market,
            self.instrument_of,
            fx=fx,
            today=lambda: self.trading_day(self.clock.now()),
        )
        self.fx = self.exposure.fx

    # -- state ------------------------------------------------------------------------------
    @property
    def limits(self) -> RiskConfig:
        return self.limit_book.limits

    @property
    def book(self) -> Book:
        return self._ledger.book

    def refresh(self) -> None:
        """Re-read persisted states, limits and level (another process may change them).
        Limits that no longer validate stop every order but the kill switch's."""
        self._refreshed_at = self.clock.now()
        self._kill_loaded = False
        self.board.reload()
        before = self.limits
        try:
            after = self.limit_book.reload()
        except ConfigError as exc:
            self.limits_error = str(exc)
        else:
            self.limits_error = None
            if (after.orders_per_second, after.order_burst) != (
                before.orders_per_second,
                before.order_burst,
            ):
                self._buckets.clear()  # the rate changed: new buckets at the new rate
        self.level, self.level_source = load_risk_level(self.store)

    def _maybe_refresh(self, now: dt.datetime) -> None:
        if self._refresh_every is not None and now - self._refreshed_at >= self._refresh_every:
            self.refresh()

    def instrument_of(self, contract_id: ContractId) -> InstrumentId:
        found = self._instruments.get(contract_id)
        if found is None:
            found = self._instruments[contract_id] = parse_contract_id(contract_id)[0]
        return found

    # -- the gate -----------------------------------------------------------------------------
    def check(self, request: OrderRequest) -> RiskDecision:
        now = self.clock.now()
        self._maybe_refresh(now)
        decision = self._decide(request, now)
        if not decision.allowed:
            self.denials[decision.check] += 1
        return decision

    def _decide(self, request: OrderRequest, now: dt.datetime) -> RiskDecision:
        order = request.order
        try:
            instrument = self.instrument_of(order.contract_id)
        except ValueError as exc:
            return RiskDecision.deny(Reason.INVALID_ORDER, Check.CONTRACT, str(exc))
        spec = self.specs.get(instrument)
        if spec is None or instrument != request.instrument_id:
            return RiskDecision.deny(
                Reason.INVALID_ORDER,
                Check.CONTRACT,
                f"{order.contract_id}: no contract spec for {instrument}, or the request names"
                f" instrument {request.instrument_id}; refused",
            )
        strategy = request.strategy_id or order.strategy_id
        contract, inst, strat = self.exposure.exposures(order, instrument, strategy)
        refused = check_infeasible(order, contract, claims_reduce=request.reduces_position)
        if refused is not None:
            return refused
        reducing = reduces(order, contract)
        quote = self.market.quote(order.contract_id)
        if request.path is OrderPath.KILL:
            return self._kill_checks(order, contract, spec, now)
        limits = self.limits
        refused = self._gates(request, instrument, reducing, now, limits)
        if refused is not None:
            return refused
        refused = check_order_size(order, limits.max_order_lots)
        if refused is None:
            # Always: an order that reduces the instrument can still grow one strategy's
            # position past its limit (check_position lets through what only shrinks).
            refused = self._exposure_limits(order, inst, strat, instrument, limits)
        price = order.limit_ticks if order.limit_ticks is not None else order.stop_ticks
        if price is None and quote is not None:
            price = quote.reference_ticks
        ticks = limits.instrument_tolerance_ticks.get(instrument, limits.price_tolerance_ticks)
        refused = (
            refused
            or check_notional(
                order,
                spec,
                price,
                limits.max_notional,
                rate=self.exposure.factor(instrument),
                base=self.fx.base,
            )
            or check_price_distance(order, quote, limits.price_tolerance_percent, ticks, spec)
            or check_band(order, quote, spec)
        )
        if refused is None and not reducing:
            before, after = self.exposure.margin(order)
            refused = check_margin(order, before, after, self.equity, limits.margin_high_mark)
        return refused or self._take_token(order, now)

    def check_flatten(self, order: BrokerOrderCreated, held: int) -> RiskDecision:
        """The kill switch's reduced checks against ``held``, the venue's position (the
        kill switch trusts the venue's snapshot, not the book)."""
        now = self.clock.now()
        instrument = self.instrument_of(order.contract_id)
        spec = self.specs.get(instrument)
        if spec is None:
            return RiskDecision.deny(
                Reason.INVALID_ORDER, Check.CONTRACT, f"{order.contract_id}: no contract spec"
            )
        decision = check_infeasible(order, Exposure(held), claims_reduce=True)
        decision = decision or self._kill_checks(order, Exposure(held), spec, now)
        if not decision.allowed:
            self.denials[decision.check] += 1
        return decision

    def _kill_checks(
        self, order: BrokerOrderCreated, contract: Exposure, spec: ContractSpec, now: dt.datetime
    ) -> RiskDecision:
        if not reduces(order, contract):
            return RiskDecision.deny(
                Reason.TRADING_STATE,
                Check.KILL_ONLY_REDUCES,
                f"{order.side} {order.quantity} {order.contract_id}: the kill switch may only"
                f" reduce a position (held {contract.position})",
            )
        quote = self.market.quote(order.contract_id)
        return check_band(order, quote, spec) or self._take_token(order, now)

    def _gates(
        self,
        request: OrderRequest,
        instrument: InstrumentId,
        reducing: bool,
        now: dt.datetime,
        limits: RiskConfig,
    ) -> RiskDecision | None:
        """Trading state, unreadable limits, risk level and market guards."""
        order = request.order
        label = f"{order.side} {order.quantity} {order.contract_id}"
        if self.limits_error is not None:
            return RiskDecision.deny(
                Reason.RISK_LIMIT, Check.LIMITS, f"{label}: {self.limits_error}"
            )
        state, scope = self.board.effective(instrument, request.strategy_id)
        if state is TradingState.HALTED or (state is TradingState.REDUCE_ONLY and not reducing):
            why = self.board.status(scope).reason
            return RiskDecision.deny(
                Reason.TRADING_STATE,
                Check.TRADING_STATE,
                f"{label}: {scope} is {state.upper()} ({why}); "
                + ("nothing may trade" if state is TradingState.HALTED else "only reducing orders"),
            )
        level = self.level
        allowed = (
            level is RiskLevel.BASE
            or reducing
            or (level is RiskLevel.REVIEW and request.path is OrderPath.RECONCILE)
        )
        if not allowed:
            what = (
                "review allows only closing, reducing and reconciling orders"
                if level is RiskLevel.REVIEW
                else "the risk level is missing or unknown, so nothing new may open"
            )
            return RiskDecision.deny(Reason.RISK_LIMIT, Check.RISK_LEVEL, f"{label}: {what}")
        if self.instrument_day is not None:
            try:
                self.instrument_day(instrument, now)
            except DataError as exc:
                return RiskDecision.deny(Reason.RISK_LIMIT, Check.CALENDAR, f"{label}: {exc}")
        pause = self.guards.evaluate(
            order.contract_id,
            now,
            dt.timedelta(seconds=limits.stale_data_seconds),
            limits.instrument_spread_ticks.get(instrument, limits.max_spread_ticks),
            dt.timedelta(seconds=limits.spread_hold_seconds),
        )
        if pause is not None:
            return RiskDecision.deny(pause.reason, Check.MARKET_GUARD, pause.message)
        return None if reducing else self._opening_gates(label, order, instrument, now, limits)

    def _opening_gates(
        self,
        label: str,
        order: BrokerOrderCreated,
        instrument: InstrumentId,
        now: dt.datetime,
        limits: RiskConfig,
    ) -> RiskDecision | None:
        """What an order that does not reduce also needs: equity valued in the base
        currency, a usable rate for its currency, and a contract outside its expiry
        window."""
        if self.equity_unknown is not None:
            return RiskDecision.deny(
                Reason.RISK_LIMIT,
                Check.EQUITY,
                f"{label}: account equity cannot be valued in {self.fx.base}"
                f" ({self.equity_unknown}); loss limits and margin cannot be checked, so"
                " nothing new opens until it can",
            )
        problem = self.fx.problem(self.specs[instrument].currency, self.trading_day(now))
        if problem is not None:
            return RiskDecision.deny(
                Reason.RISK_LIMIT,
                Check.FX_RATE,
                f"{label}: {problem}; {instrument} opens nothing until a rate is known",
            )
        window = self.expiry_state(order.contract_id, now, limits.expiry_guard_days)
        if window is not None:
            text = window if isinstance(window, str) else window.text()
            return RiskDecision.deny(
                Reason.RISK_LIMIT,
                Check.EXPIRY,
                f"{label}: {text}; the contract is reduce-only, nothing new opens in it",
            )
        return None

    # -- the expiry guard --------------------------------------------------------------------
    def expiry_state(
        self, contract_id: ContractId, now: dt.datetime, window: int
    ) -> ExpiryWindow | str | None:
        """The contract's expiry window now (``bastion.risk.expiry``), a one-line reason
        when its dates cannot be known (fail closed), or ``None``. Cached per day."""
        if self.expiry is None or window <= 0:
            return None
        day = self.trading_day(now)
        if day != self._expiry_day:
            self._expiry_day = day
            self._expiry_seen.clear()
            self._alerted.clear()
        if contract_id not in self._expiry_seen:
            try:
                found: ExpiryWindow | str | None = expiry_window(
                    self.expiry, contract_id, now, window
                )
            except DataError as exc:
                found = f"{contract_id}: its last trade day cannot be known ({exc})"
            self._expiry_seen[contract_id] = found
        return self._expiry_seen[contract_id]

    def expiry_alerts(self, now: dt.datetime) -> list[tuple[InstrumentId, str]]:
        """Positions held in a contract inside its expiry window: one alert per contract
        and trading day (the roll should have moved them first)."""
        window = self.limits.expiry_guard_days
        if self.expiry is None or window <= 0:
            return []
        alerts = []
        for (instrument, cid), lots in self.book.positions.contract.items():
            if not lots or cid in self._alerted:
                continue
            state = self.expiry_state(cid, now, window)
            if state is None:
                continue
            self._alerted.add(cid)
            text = state if isinstance(state, str) else state.text()
            message = (
                f"{lots:+d} lots still held in {text}; {cid} is reduce-only: roll or"
                " close it (bastion flatten, or the roll status)"
            )
            alerts.append((instrument, message))
        return alerts

    def _exposure_limits(
        self,
        order: BrokerOrderCreated,
        inst: Exposure,
        strat: Exposure | None,
        instrument: InstrumentId,
        limits: RiskConfig,
    ) -> RiskDecision | None:
        cap = limits.instrument_position_lots.get(instrument, limits.max_position_lots)
        refused = check_position(
            order, inst, cap, what=f"the {instrument} position", check=Check.POSITION
        )
        if refused is None and strat is not None and limits.max_strategy_position_lots is not None:
            refused = check_position(
                order,
                strat,
                limits.max_strategy_position_lots,
                what=f"strategy {order.strategy_id}'s {instrument} position",
                check=Check.STRATEGY_POSITION,
            )
        return refused

    def _bucket(self, venue: str, now: dt.datetime) -> TokenBucket:
        bucket = self._buckets.get(venue)
        if bucket is None:
            limits = self.limits
            declared = self._venue_limits.get(venue, DEFAULT_RATE)
            rate = limits.orders_per_second or declared.orders_per_second
            burst = limits.order_burst or declared.order_burst
            bucket = self._buckets[venue] = TokenBucket(rate, burst, now)
        return bucket

    def _take_token(self, order: BrokerOrderCreated, now: dt.datetime) -> RiskDecision:
        bucket = self._bucket(order.venue, now)
        if bucket.take(now):
            return RiskDecision.allow()
        return RiskDecision.deny(
            Reason.RATE_LIMITED,
            Check.ORDER_RATE,
            f"{order.side} {order.quantity} {order.contract_id}: over the order rate of"
            f" {bucket.rate:g}/s for venue {order.venue or 'default'}; retry in"
            f" {bucket.wait_seconds(now):.2f} s",
        )

    # -- account updates: loss limits and the margin monitor ------------------------------------
    def on_equity_unknown(self, why: str) -> str | None:
        """The engine's equity mark cannot be valued in the base currency (``why``).
        Fail closed: loss limits and margin use cannot be checked, so the account opens
        nothing until a mark is valued again (``on_account``), and the last equity is
        forgotten (no margin check on a stale figure). Returns the alert to journal:
        when this starts, and again each account trading day it lasts."""
        now = self.clock.now()
        started = self.equity_unknown is None
        self.equity_unknown = why
        self.equity = None
        day = self.trading_day(now)
        if not started and self._equity_alerted == day:
            return None
        self._equity_alerted = day
        since = "" if started else " (still)"
        return (
            f"account equity cannot be valued in {self.fx.base}{since}: {why}; daily,"
            " weekly and drawdown loss limits and margin use cannot be checked, so the"
            " account opens nothing (reducing orders and the kill switch still trade)"
            " until equity can be valued again"
        )

    def on_account(self, equity: Decimal, margin_used: Decimal | None = None) -> AccountCheck:
        """Take an account snapshot's equity (and the venue's margin in use, if known).
        Loss breaches move the account's state (or fire the kill switch); margin above
        the high mark returns the risk-reducing orders that bring it to the low mark."""
        now = self.clock.now()
        self.equity = equity
        if self.equity_unknown is not None:
            self.store.record(
                [
                    note(
                        now,
                        "risk.equity",
                        f"account equity valued again ({equity:,.2f} {self.fx.base}) after:"
                        f" {self.equity_unknown}; loss limits checked and openings allowed"
                        " again",
                        equity=equity,
                    )
                ]
            )
            self.equity_unknown = None
            self._equity_alerted = None
        limits = self.limits
        breaches = self.loss.update(equity, now, limits)
        for breach in breaches:
            if breach.action == "kill" and breach.first:
                self.request_kill(breach.message, actor="risk engine")
            else:
                event = (
                    StateEvent.BREACH_REDUCE
                    if breach.action == "reduce"
                    else StateEvent.BREACH_HALT
                )
                self._breach(event, breach.message)
        if margin_used is None:
            # Every mark: a float estimate first; the exact figure only near the mark.
            estimate = self.exposure.margin_in_use_estimate()
            if estimate is not None and equity > 0:
                high = float(limits.margin_high_mark)
                if estimate < 0.98 * high * float(equity):
                    return AccountCheck(breaches) if breaches else _QUIET
        used = margin_used if margin_used is not None else self.exposure.margin_in_use()
        if used is None or equity <= 0:
            return AccountCheck(breaches, None, [])
        utilisation = used / equity
        reductions: list[ReduceIntent] = []
        if utilisation > limits.margin_high_mark:
            reductions = plan_margin_reduction(
                self.book.positions.contract,
                self.specs,
                self.market,
                equity,
                used,
                limits.margin_low_mark,
                limits.max_order_lots,
                self.exposure.factor,
            )
            self.store.record(
                [
                    note(
                        now,
                        "risk.margin",
                        f"margin utilisation {utilisation:.1%} is above the high mark"
                        f" {float(limits.margin_high_mark) * 100:g}%; reducing to"
                        f" {float(limits.margin_low_mark) * 100:g}%"
                        f" with {len(reductions)} orders",
                        utilisation=f"{utilisation:.4f}",
                    )
                ]
            )
        return AccountCheck(breaches, utilisation, reductions)

    def _breach(self, event: StateEvent, reason: str) -> StateChange | None:
        scope = Scope.account()
        current = self.board.state(scope)
        target = TRANSITIONS[(current, event)]
        if SEVERITY[target] <= SEVERITY[current]:
            return None  # already at least that tight: no journal spam
        return self.board.apply(scope, event, reason, actor="risk engine")

    # -- operator and plan inputs --------------------------------------------------------------
    def operator(self, scope: Scope, event: StateEvent, reason: str) -> StateChange:
        """An operator's halt, reduce or resume; a reason is required; journaled."""
        if not event.by_operator:
            raise ValueError(f"{event} is not an operator event")
        return self.board.apply(scope, event, reason, actor="operator")

    def set_risk_level(self, text: str | None, source: str) -> RiskLevel:
        self.level = save_risk_level(self.store, text, source, self.clock.now())
        self.level_source = source
        return self.level

    def request_kill(self, reason: str, actor: str = "operator") -> None:
        """Step 1 of the kill switch, wherever it is triggered: persist HALTED, then leave
        a kill request for the engine's loop to run ``KillSwitch``."""
        request_kill(self.store, self.board, self.clock, reason, actor)
        self._kill_loaded = False

    def pending_kill(self) -> dict[str, Any] | None:
        """The pending kill request, if any (cached; ``refresh`` re-reads the store)."""
        if not self._kill_loaded:
            self._kill = pending_kill(self.store)
            self._kill_loaded = True
        return self._kill

    def clear_kill(self, outcome: str) -> None:
        clear_kill(self.store, self.clock, outcome)
        self._kill_loaded = False
