"""The sim venue's account: position books, cash, commissions and margin.

Books follow CTP's shape: long and short held separately, each split today/yesterday.
An order with no offset flag trades the net position (closing the opposite book first,
yesterday before today, then opening); ``OPEN``/``CLOSE``/``CLOSE_TODAY``/
``CLOSE_YESTERDAY`` act on the named book, and the venue refuses a close larger than
what can still be closed. Margin is initial margin on the worst case of the position
and its working orders (the risk a venue reserves for): ``max(|pos + buys|, |pos - sells|)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from bastion.domain.contracts import ContractSpec
from bastion.domain.enums import OffsetFlag
from bastion.domain.ids import ContractId
from bastion.venues.port import AccountSnapshot, PositionRecord
from bastion.venues.sim.market_data import MarketState

__all__ = ["ContractBook", "SimAccount"]

_CLOSES = (OffsetFlag.CLOSE, OffsetFlag.CLOSE_TODAY, OffsetFlag.CLOSE_YESTERDAY)


class ContractBook:
    __slots__ = (
        "cash_flow_ticks",
        "long_today",
        "long_yesterday",
        "short_today",
        "short_yesterday",
        "working_buy",
        "working_closes",
        "working_sell",
    )

    def __init__(self) -> None:
        self.long_today = 0
        self.long_yesterday = 0
        self.short_today = 0
        self.short_yesterday = 0
        self.cash_flow_ticks = 0
        """Minus the sum of signed lots x price: P&L = (net x mark + this) x tick value."""
        self.working_buy = 0
        self.working_sell = 0
        self.working_closes: dict[tuple[int, OffsetFlag], int] = {}
        """Lots of working close orders by (side sign, offset), so closes never exceed."""

    @property
    def net(self) -> int:
        return self.long_today + self.long_yesterday - self.short_today - self.short_yesterday

    def worst(self, extra_buy: int = 0, extra_sell: int = 0) -> int:
        net = self.net
        return max(
            abs(net + self.working_buy + extra_buy), abs(net - self.working_sell - extra_sell)
        )

    def closable(self, sign: int, offset: OffsetFlag) -> int:
        """Lots a close with this side and offset may still close (net of working closes)."""
        today, yesterday = (
            (self.short_today, self.short_yesterday)
            if sign > 0
            else (self.long_today, self.long_yesterday)
        )
        if offset is OffsetFlag.CLOSE_TODAY:
            held = today
            pending = self.working_closes.get((sign, offset), 0)
        elif offset is OffsetFlag.CLOSE_YESTERDAY:
            held = yesterday
            pending = self.working_closes.get((sign, offset), 0)
        else:
            held = today + yesterday
            pending = sum(self.working_closes.get((sign, o), 0) for o in _CLOSES)
        return held - pending

    def apply_fill(self, sign: int, lots: int, price_ticks: int, offset: OffsetFlag | None) -> None:
        self.cash_flow_ticks -= sign * lots * price_ticks
        if offset is OffsetFlag.OPEN:
            self._open(sign, lots)
            return
        if offset is OffsetFlag.CLOSE_TODAY:
            self._close_today(sign, lots)
            return
        if offset is OffsetFlag.CLOSE_YESTERDAY:
            self._close_yesterday(sign, lots)
            return
        rest = self._close_yesterday(sign, lots)
        rest = self._close_today(sign, rest)
        if rest and offset is None:
            self._open(sign, rest)
        # With an explicit CLOSE the venue refused anything larger than the books.

    def _open(self, sign: int, lots: int) -> None:
        if sign > 0:
            self.long_today += lots
        else:
            self.short_today += lots

    def _close_yesterday(self, sign: int, lots: int) -> int:
        if sign > 0:
            done = min(lots, self.short_yesterday)
            self.short_yesterday -= done
        else:
            done = min(lots, self.long_yesterday)
            self.long_yesterday -= done
        return lots - done

    def _close_today(self, sign: int, lots: int) -> int:
        if sign > 0:
            done = min(lots, self.short_today)
            self.short_today -= done
        else:
            done = min(lots, self.long_today)
            self.long_today -= done
        return lots - done

    def roll_day(self) -> None:
        self.long_yesterday += self.long_today
        self.short_yesterday += self.short_today
        self.long_today = self.short_today = 0

    def record(self, contract_id: ContractId) -> PositionRecord:
        return PositionRecord(
            contract_id=contract_id,
            long_today=self.long_today,
            long_yesterday=self.long_yesterday,
            short_today=self.short_today,
            short_yesterday=self.short_yesterday,
        )


class SimAccount:
    """Cash, equity and margin in the account's ``currency``: each contract's money is
    converted at its currency's rate (``rates``); a contract in a currency without one
    is not tradable here (``unconverted`` names why) and holds nothing."""

    __slots__ = (
        "_margin_unit",
        "_rate",
        "_tick_value",
        "books",
        "cash",
        "commissions",
        "currency",
        "unconverted",
    )

    def __init__(
        self,
        currency: str,
        cash: Decimal,
        specs: dict[ContractId, ContractSpec],
        rates: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.currency = currency
        self.cash = cash
        self.commissions = Decimal(0)
        self.books: dict[ContractId, ContractBook] = {}
        known = {currency: Decimal(1), **(rates or {})}
        self._rate = {cid: known.get(spec.currency) for cid, spec in specs.items()}
        self.unconverted = {
            cid: f"no rate from {spec.currency} to {currency} at the sim venue"
            for cid, spec in specs.items()
            if spec.currency not in known
        }
        self._tick_value = {
            cid: spec.tick_value * (self._rate[cid] or 0) for cid, spec in specs.items()
        }
        self._margin_unit = {
            cid: spec.tick_value * spec.margin_rate * (self._rate[cid] or 0)
            for cid, spec in specs.items()
        }
        """Margin of one lot per tick of price, in the account's currency."""

    def to_account(self, contract_id: ContractId, amount: Decimal) -> Decimal:
        """An amount in the contract's currency, in the account's (0 without a rate:
        such a contract never trades here)."""
        return amount * (self._rate.get(contract_id) or 0)

    def book(self, contract_id: ContractId) -> ContractBook:
        book = self.books.get(contract_id)
        if book is None:
            book = self.books[contract_id] = ContractBook()
        return book

    def charge(self, amount: Decimal) -> None:
        self.cash -= amount
        self.commissions += amount

    def move_cash(self, amount: Decimal) -> None:
        """Cash in (positive) or out (negative): a deposit, a withdrawal, a margin call."""
        self.cash += amount

    def equity(self, markets: dict[ContractId, MarketState]) -> Decimal:
        total = self.cash
        for cid, book in self.books.items():
            mark = markets[cid].mark_ticks or 0
            total += (book.net * mark + book.cash_flow_ticks) * self._tick_value[cid]
        return total

    def _margin(self, markets: dict[ContractId, MarketState], *, worst: bool) -> Decimal:
        total = Decimal(0)
        for cid, book in self.books.items():
            lots = book.worst() if worst else abs(book.net)
            if lots:
                total += lots * abs(markets[cid].mark_ticks or 0) * self._margin_unit[cid]
        return total

    def extra_margin(
        self, contract_id: ContractId, sign: int, lots: int, price_ticks: int
    ) -> Decimal:
        """Margin a new order would add to the worst case, at ``price_ticks``."""
        book = self.book(contract_id)
        before = book.worst()
        after = book.worst(lots if sign > 0 else 0, lots if sign < 0 else 0)
        return max(0, after - before) * abs(price_ticks) * self._margin_unit[contract_id]

    def available(self, markets: dict[ContractId, MarketState]) -> Decimal:
        return self.equity(markets) - self._margin(markets, worst=True)

    def snapshot(self, markets: dict[ContractId, MarketState]) -> AccountSnapshot:
        return AccountSnapshot(
            currency=self.currency,
            equity=self.equity(markets),
            margin_used=self._margin(markets, worst=False),
            margin_available=self.available(markets),
            commissions=self.commissions,
        )

    def positions(self) -> dict[ContractId, PositionRecord]:
        return {
            cid: book.record(cid)
            for cid, book in self.books.items()
            if book.long_today or book.long_yesterday or book.short_today or book.short_yesterday
        }
