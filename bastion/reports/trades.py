"""Trades as a trader reads them, from the journal's fills.

- ``order_rows``: one row per filled broker order (the trades report's cost analysis):
  average fill price, the reference, mid and touch prices at generation, slippage
  against each in ticks per lot and in money (worse positive) -- or "no reference" /
  "no quote" where the order carried none -- and the delays.
- ``round_trips``: one row per position from flat to flat in a contract (a fill that
  crosses zero closes one trip and opens the next; its commission is split by lots).
  A roll shows as the trip in the old contract closing and one in the new opening.
- ``instrument_rows``: per instrument, trips, win rate, P&L split into gross,
  commissions and slippage, lots traded and time in market.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.ids import ContractId, InstrumentId
from bastion.reports.ledger import ContractLedger, FillFact, reference_of
from bastion.reports.money import to_decimal_money

__all__ = [
    "InstrumentRow",
    "OrderRow",
    "RoundTrip",
    "instrument_rows",
    "order_rows",
    "round_trips",
    "time_in_market",
]


@dataclass(frozen=True, slots=True)
class OrderRow:
    """A filled broker order with its costs against the prices it was generated on."""

    client_order_id: str
    contract: str
    side: str
    filled: int
    average_ticks: Fraction
    reference_ticks: int | None
    """None when the order carried no reference price (or a zero one)."""
    mid_ticks: int | None
    side_ticks: int | None
    generated: dt.datetime | None
    submitted: dt.datetime | None
    filled_at: dt.datetime | None
    spec: ContractSpec | None
    commission: Decimal = Decimal(0)

    @property
    def currency(self) -> str:
        return self.spec.currency if self.spec is not None else ""

    def slippage(self, against: int | None) -> Fraction | None:
        """Ticks per lot against ``against``; worse is positive (a buy above, a sell below)."""
        if against is None:
            return None
        sign = 1 if self.side == "buy" else -1
        return (self.average_ticks - against) * sign

    def slippage_money(self, against: int | None) -> Decimal | None:
        per_lot = self.slippage(against)
        if per_lot is None or self.spec is None:
            return None
        return to_decimal_money(per_lot * self.filled * Fraction(self.spec.tick_value))


def order_rows(
    facts: Iterable[FillFact], specs: Mapping[InstrumentId, ContractSpec]
) -> list[OrderRow]:
    """One row per broker order that has fills (orders missing from the journal skipped)."""
    by_order: dict[str, list[FillFact]] = {}
    for fact in facts:
        if fact.order is not None:
            by_order.setdefault(fact.fill.client_order_id, []).append(fact)
    rows: list[OrderRow] = []
    for coid, parts in by_order.items():
        order = parts[0].order
        assert order is not None  # noqa: S101 - filtered above
        lots = sum(p.fill.quantity for p in parts)
        rows.append(
            OrderRow(
                client_order_id=str(coid),
                contract=str(order.contract_id),
                side=str(order.side),
                filled=lots,
                average_ticks=Fraction(
                    sum(p.fill.quantity * p.fill.price_ticks for p in parts), lots
                ),
                reference_ticks=reference_of(order),
                mid_ticks=order.mid_ticks,
                side_ticks=order.side_ticks,
                generated=order.reference_time or order.timestamp,
                submitted=parts[0].submitted,
                filled_at=max(p.fill.timestamp for p in parts),
                spec=specs.get(parse_contract_id(order.contract_id)[0]),
                commission=sum((p.fill.commission for p in parts), Decimal(0)),
            )
        )
    return sorted(rows, key=lambda r: r.filled_at or dt.datetime.min.replace(tzinfo=dt.UTC))


@dataclass(slots=True)
class RoundTrip:
    """A position in one contract from flat to flat (open: ``closed`` is None)."""

    contract: ContractId
    spec: ContractSpec
    direction: str
    opened: dt.datetime
    closed: dt.datetime | None = None
    lots: int = 0
    """The largest position held during the trip."""
    entry_lots: int = 0
    entry_value: int = 0
    exit_lots: int = 0
    exit_value: int = 0
    realised_ticks: Fraction = Fraction(0)
    commissions: Decimal = Decimal(0)
    slippage_ticks: Fraction = Fraction(0)
    unreferenced_lots: int = 0
    fills: int = 0
    exit_by_roll: bool = False
    unrealised_ticks: Fraction | None = None

    @property
    def instrument(self) -> InstrumentId:
        return self.spec.instrument_id

    @property
    def currency(self) -> str:
        return self.spec.currency

    @property
    def entry_ticks(self) -> Fraction:
        return Fraction(self.entry_value, self.entry_lots)

    @property
    def exit_ticks(self) -> Fraction | None:
        return Fraction(self.exit_value, self.exit_lots) if self.exit_lots else None

    @property
    def gross(self) -> Decimal:
        """Realised P&L, plus the open part marked (when open and marked)."""
        ticks = self.realised_ticks + (self.unrealised_ticks or 0)
        return to_decimal_money(ticks * Fraction(self.spec.tick_value))

    @property
    def net(self) -> Decimal:
        return self.gross - self.commissions.quantize(Decimal("0.01"))

    @property
    def slippage(self) -> Decimal:
        return to_decimal_money(self.slippage_ticks * Fraction(self.spec.tick_value))

    @property
    def holding(self) -> dt.timedelta | None:
        return None if self.closed is None else self.closed - self.opened


@dataclass(slots=True)
class _Tracker:
    ledger: ContractLedger
    trip: RoundTrip | None = None
    done: list[RoundTrip] = field(default_factory=list)


def round_trips(
    facts: Iterable[FillFact],
    specs: Mapping[InstrumentId, ContractSpec],
    marks: Mapping[ContractId, int] | None = None,
) -> list[RoundTrip]:
    """Every round trip, closed ones first in closing order, then open ones (marked at
    ``marks`` where given)."""
    trackers: dict[ContractId, _Tracker] = {}
    closed: list[RoundTrip] = []
    for fact in facts:
        fill = fact.fill
        spec = specs.get(fact.instrument)
        if spec is None:
            continue
        tracker = trackers.get(fill.contract_id)
        if tracker is None:
            tracker = trackers[fill.contract_id] = _Tracker(ContractLedger(fill.contract_id))
        before = tracker.ledger.position
        realised = tracker.ledger.apply(fact)
        after = tracker.ledger.position
        closing = min(fill.quantity, abs(before)) if before * fill.signed_quantity < 0 else 0
        opening = fill.quantity - closing
        slip = fact.slippage_ticks()
        if closing:
            trip = tracker.trip
            assert trip is not None  # noqa: S101 - a position implies an open trip
            trip.exit_lots += closing
            trip.exit_value += closing * fill.price_ticks
            trip.realised_ticks += realised
            trip.commissions += fill.commission * closing / fill.quantity
            trip.fills += 1
            _slip(trip, slip, Fraction(closing, fill.quantity), closing)
            if after * before <= 0:
                trip.closed = fill.timestamp
                trip.exit_by_roll = fact.roll
                closed.append(trip)
                tracker.trip = None
        if opening:
            trip = tracker.trip
            if trip is None:
                trip = tracker.trip = RoundTrip(
                    contract=fill.contract_id,
                    spec=spec,
                    direction="long" if fill.signed_quantity > 0 else "short",
                    opened=fill.timestamp,
                )
            trip.entry_lots += opening
            trip.entry_value += opening * fill.price_ticks
            # A fill that crosses zero pays its commission to both trips, by lots.
            trip.commissions += fill.commission - fill.commission * closing / fill.quantity
            trip.fills += 1
            _slip(trip, slip, Fraction(opening, fill.quantity), opening)
        if tracker.trip is not None:
            tracker.trip.lots = max(tracker.trip.lots, abs(after))
    still_open = []
    for cid, tracker in sorted(trackers.items()):
        if tracker.trip is not None:
            mark = (marks or {}).get(cid)
            tracker.trip.unrealised_ticks = tracker.ledger.unrealised_ticks(mark)
            still_open.append(tracker.trip)
    return [*closed, *still_open]


def _slip(trip: RoundTrip, slip: int | None, share: Fraction, lots: int) -> None:
    if slip is None:
        trip.unreferenced_lots += lots
    else:
        trip.slippage_ticks += slip * share


@dataclass(frozen=True, slots=True)
class InstrumentRow:
    instrument: InstrumentId
    currency: str
    trips: int
    closed_trips: int
    winners: int
    gross: Decimal
    commissions: Decimal
    slippage: Decimal
    lots: int
    time_in_market: float | None

    @property
    def net(self) -> Decimal:
        return self.gross - self.commissions

    @property
    def win_rate(self) -> float | None:
        return self.winners / self.closed_trips if self.closed_trips else None


def time_in_market(
    facts: Sequence[FillFact], span: tuple[dt.datetime, dt.datetime]
) -> dict[InstrumentId, float]:
    """Share of ``span`` each instrument held a position (any of its contracts)."""
    start, end = span
    total = (end - start).total_seconds()
    held: dict[InstrumentId, int] = {}
    since: dict[InstrumentId, dt.datetime] = {}
    seconds: dict[InstrumentId, float] = {}
    for fact in facts:
        iid = fact.instrument
        before = held.get(iid, 0)
        after = before + fact.fill.signed_quantity
        held[iid] = after
        seconds.setdefault(iid, 0.0)
        when = min(max(fact.fill.timestamp, start), end)
        if before == 0 and after != 0:
            since[iid] = when
        elif before != 0 and after == 0:
            seconds[iid] += (when - since.pop(iid)).total_seconds()
    for iid, opened in since.items():
        seconds[iid] += (end - opened).total_seconds()
    return {iid: (s / total if total > 0 else 0.0) for iid, s in seconds.items()}


def instrument_rows(
    trips: Sequence[RoundTrip], in_market: Mapping[InstrumentId, float] | None = None
) -> list[InstrumentRow]:
    grouped: dict[InstrumentId, list[RoundTrip]] = {}
    for trip in trips:
        grouped.setdefault(trip.instrument, []).append(trip)
    rows = []
    for iid, group in sorted(grouped.items()):
        finished = [t for t in group if t.closed is not None]
        rows.append(
            InstrumentRow(
                instrument=iid,
                currency=group[0].currency,
                trips=len(group),
                closed_trips=len(finished),
                winners=sum(1 for t in finished if t.net > 0),
                gross=sum((t.gross for t in group), Decimal(0)),
                commissions=sum((t.commissions for t in group), Decimal(0)),
                slippage=sum((t.slippage for t in group), Decimal(0)),
                lots=sum(t.entry_lots + t.exit_lots for t in group),
                time_in_market=None if in_market is None else in_market.get(iid, 0.0),
            )
        )
    return rows
