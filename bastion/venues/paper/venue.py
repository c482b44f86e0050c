"""The paper venue's core, without sockets: FIX application messages in, reports out.

``PaperVenue.handle(client, message, wall_now)`` applies one application message from
one FIX client and returns what to send to whom. Messages that change the venue are
logged as inputs first (``PaperState``) and replayed on start by ``replay()``; queries
are answered from the sim venue's state. Every ``tick`` the price feed moves and the
quotes go to the clients that asked for market data.

Control messages (type ``U1``, tag 20100 names the operation) drive the market for the
conformance suite and tests; the server accepts them only when started with
``control=True``. The wire controls (``clock``, ``silence``; see ``controls``) are not
venue inputs: they set ``clock_offset`` and ``silenced_except`` for the server, are never
logged, and a restarted venue starts without them.

Every message is checked in full before anything is logged or changed: a bad field
(including one too long: ids the venue echoes are at most 64 characters, other values
256, so no answer outgrows the message size cap) raises ``FieldError`` (a session Reject
naming the tag), a missing or empty ClOrdID or OrigClOrdID raises
``BusinessRejectError`` (35=j: there is no order id to answer with). So the input log
holds only inputs that apply cleanly, and a replay rebuilds exactly the state the venue
had (``state_digest`` compares the two).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bastion.clock import SimClock
from bastion.domain.contracts import ContractSpec
from bastion.domain.ids import ClientOrderId, ContractId
from bastion.domain.orders import BrokerOrder
from bastion.domain.reasons import Reason
from bastion.domain.venue_events import (
    Acknowledged,
    Canceled,
    CancelRejected,
    Expired,
    FillReport,
    Rejected,
    VenueEvent,
)
from bastion.venues.fix.errors import code_for
from bastion.venues.fix.instruments import ContractBook, contract_fields
from bastion.venues.fix.parsing import (
    OFFSET_TAG,
    OFFSETS,
    ORD_STATUS,
    ORD_TYPES,
    SIDES,
    TIFS,
    order_from_new_order,
)
from bastion.venues.fix.wire import (
    BusinessRejectError,
    Field,
    FieldError,
    Message,
    body_fields,
    decode,
    encode,
    fix_time,
    text,
)
from bastion.venues.paper.controls import TRANSPORT_KINDS, control_payload
from bastion.venues.paper.digest import venue_digest
from bastion.venues.paper.feed import RandomWalk
from bastion.venues.paper.state import PaperState
from bastion.venues.port import OrderStatusRecord, VenueOrderStatus
from bastion.venues.sim.config import SimVenueConfig
from bastion.venues.sim.execution import SimVenue
from bastion.venues.sim.market_data import Quote, Trade

__all__ = ["Outgoing", "PaperVenue"]

log = logging.getLogger("bastion.paper.venue")

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Outgoing:
    client: str
    msg_type: str
    fields: list[Field]
    store: bool = True


def _us(when: dt.datetime) -> int:
    return (when - _EPOCH) // dt.timedelta(microseconds=1)


ID_TAGS = frozenset({1, 11, 41, 262, 568, 584, 710, 790, 909, 20020, 20103})
"""Fields the venue echoes back (order and request ids): at most ``MAX_ID_CHARS``."""
MAX_ID_CHARS = 64
MAX_FIELD_CHARS = 256
"""The longest value any other field of an application message may have."""


def _check_lengths(msg: Message) -> None:
    """Every value is short enough that no answer echoing it outgrows a message."""
    for raw_tag, value in msg.pairs:
        tag = int(raw_tag)
        limit = MAX_ID_CHARS if tag in ID_TAGS else MAX_FIELD_CHARS
        if len(value) > limit:
            raise FieldError(tag, 5, f"tag {tag} is longer than {limit} characters")


def _order_id(msg: Message, tag: int) -> str:
    """A ClOrdID (11) or OrigClOrdID (41) the venue must answer with: missing or empty
    is a business reject, since no ExecutionReport could name the order."""
    value = text(msg, tag)
    if not value:
        name = "ClOrdID" if tag == 11 else "OrigClOrdID"
        raise BusinessRejectError(5, f"{name} ({tag}) is missing or empty")
    return value


class PaperVenue:
    def __init__(
        self,
        state: PaperState,
        specs: dict[ContractId, ContractSpec],
        start_prices: dict[ContractId, int],
        *,
        start: dt.datetime,
        manual_clock: bool = False,
        control: bool = False,
        seed: int = 7,
        name: str = "paper",
        sim_config: SimVenueConfig | None = None,
    ) -> None:
        self.state = state
        self.contracts = ContractBook(specs)
        first = state.first_input_us()  # a replay starts where the log starts
        self.clock = SimClock(start if first is None else _EPOCH + dt.timedelta(microseconds=first))
        self.manual_clock = manual_clock
        self.control = control
        self.session_open = True
        config = sim_config if sim_config is not None else SimVenueConfig(name=name, seed=seed)
        self.sim = SimVenue(specs, self.clock, config, self._is_open)
        self.sim.connect()
        self.feed = RandomWalk(start_prices, seed)
        self.owner: dict[ClientOrderId, str] = {}
        self.orders: dict[ClientOrderId, BrokerOrder] = {}
        self.cancel_ids: dict[ClientOrderId, str] = {}
        self.subscribers: set[str] = set()
        self.down_until: dict[str, dt.datetime] = {}
        self.clock_offset = dt.timedelta(0)
        """Added to the SendingTime and TransactTime of everything the venue sends (a
        skewed clock)."""
        self.silenced_except: str | None = None
        """While set, the venue is silent to every client but this one (the one that
        asked for the silence, so it can end it)."""
        self._fills_seen = 0
        self._client = ""

    def _is_open(self, _cid: ContractId, _when: dt.datetime) -> bool:
        return self.session_open

    # -- inputs -------------------------------------------------------------------------
    def replay(self) -> int:
        """Rebuild the venue from its input log; returns how many inputs were replayed."""
        count = 0
        for at_us, client, kind, payload in self.state.inputs():
            at = _EPOCH + dt.timedelta(microseconds=at_us)
            if at > self.clock.now():
                self.clock.advance_to(at)
            self._apply(client, kind, payload)
            self.sim.poll_events()
            count += 1
        self._fills_seen = len(self.sim.fills)
        return count

    def _now_for_input(self, wall: dt.datetime) -> dt.datetime:
        if not self.manual_clock and wall > self.clock.now():
            self.clock.advance_to(wall)
        return self.clock.now()

    def _input(self, client: str, kind: str, payload: object, wall: dt.datetime) -> list[Outgoing]:
        at = self._now_for_input(wall)
        self.state.log_input(_us(at), client, kind, payload)
        extra = self._apply(client, kind, payload)
        return extra + self._drain(client)

    def _apply(self, client: str, kind: str, payload: object) -> list[Outgoing]:  # noqa: C901, PLR0912
        self._client = client
        data = payload if isinstance(payload, dict) else {}
        now = self.clock.now()
        if kind == "order":
            self._submit(client, data)
        elif kind == "cancel":
            orig = ClientOrderId(str(data["orig"]))
            self.cancel_ids[orig] = str(data["id"])
            self.sim.cancel(orig)
        elif kind == "replace":
            orig = ClientOrderId(str(data["orig"]))
            new = self._parse(data["fields"])
            if isinstance(new, BrokerOrder):
                self.owner[new.client_order_id] = client
                self.orders[new.client_order_id] = new
                self.cancel_ids[orig] = new.client_order_id
                self.sim.modify(orig, new)
        elif kind == "quote":
            cid = ContractId(str(data["contract"]))
            self.feed.set_mid(cid, int(data["bid"]))
            self.sim.on_quote(
                Quote(
                    contract_id=cid,
                    bid_ticks=int(data["bid"]),
                    ask_ticks=int(data["ask"]),
                    bid_size=int(data.get("bid_size", 10)),
                    ask_size=int(data.get("ask_size", 10)),
                    timestamp=now,
                )
            )
            return self._quote_out(cid)
        elif kind == "trade":
            cid = ContractId(str(data["contract"]))
            self.sim.on_trade(
                Trade(
                    contract_id=cid,
                    price_ticks=int(data["price"]),
                    size=int(data["size"]),
                    timestamp=now,
                )
            )
        elif kind == "advance":
            self.clock.advance(dt.timedelta(seconds=float(data["seconds"])))
            self.sim.advance()
        elif kind == "session":
            self.session_open = str(data["open"]).lower() in {"1", "true"}
        elif kind == "eod":
            self.sim.end_of_day()
        elif kind == "refprice":
            self.sim.set_reference_price(ContractId(str(data["contract"])), int(data["ticks"]))
        elif kind == "halt":
            self.sim.halt(ContractId(str(data["contract"])))
        elif kind == "duplicate":
            self.sim.faults.duplicate_next()
        elif kind == "disconnect":
            self.down_until[client] = now + dt.timedelta(seconds=float(data["seconds"]))
        return []

    def _parse(self, fields: object) -> BrokerOrder | ContractId | None:
        pairs = [(int(t), str(v)) for t, v in fields]  # type: ignore[attr-defined]
        raw = encode("D", pairs, seq=1, sender="x", target="y", now=self.clock.now())
        return order_from_new_order(decode(raw), self.contracts, self.clock.now())

    def _submit(self, client: str, data: dict[str, object]) -> None:
        order = self._parse(data["fields"])
        if isinstance(order, BrokerOrder):
            self.owner[order.client_order_id] = client
            self.orders.setdefault(order.client_order_id, order)
            self.sim.submit(order)
        else:
            coid = ClientOrderId(str(data["coid"]))
            self.owner[coid] = client
            self.sim._local.append(  # noqa: SLF001 - the sim's own refusal queue keeps order
                Rejected(
                    client_order_id=coid,
                    reason=Reason.INVALID_ORDER,
                    message=f"unknown contract {order}",
                    timestamp=self.clock.now(),
                )
            )

    # -- outputs ------------------------------------------------------------------------
    def _drain(self, client: str) -> list[Outgoing]:
        out: list[Outgoing] = []
        fills = self.sim.fills
        if len(fills) > self._fills_seen:
            self.state.record_fills(fills[self._fills_seen :])
            self._fills_seen = len(fills)
        for event in self.sim.poll_events():
            target = self.owner.get(event.client_order_id, client)
            out.append(self._report(target, event))
        return out

    def _cum(self, coid: ClientOrderId) -> int:
        order = self.sim.orders.get(coid)
        if order is not None:
            return order.filled
        done = self.sim.status.get(coid)
        return done.filled if done is not None else 0

    def _order_fields(self, coid: ClientOrderId) -> list[Field]:
        order = self.orders.get(coid)
        if order is None:
            return [(54, "1"), (38, 0)]
        fields: list[Field] = [*contract_fields(order.contract_id), (54, SIDES[order.side])]
        fields += [
            (38, order.quantity),
            (40, ORD_TYPES[order.order_type]),
            (59, TIFS[order.time_in_force]),
        ]
        if order.limit_ticks is not None:
            fields.append((44, self.contracts.price(order.contract_id, order.limit_ticks)))
        if order.stop_ticks is not None:
            fields.append((99, self.contracts.price(order.contract_id, order.stop_ticks)))
        if order.offset is not None:
            fields.append((OFFSET_TAG, OFFSETS[order.offset]))
        return fields

    def _report(self, client: str, event: VenueEvent) -> Outgoing:
        coid = event.client_order_id
        vid = getattr(event, "venue_order_id", None)
        if isinstance(event, FillReport):
            vid = event.fill.venue_order_id
        cum = self._cum(coid)
        order = self.orders.get(coid)
        qty = order.quantity if order is not None else cum
        base: list[Field] = [(37, vid or "NONE"), (11, coid)]
        tail: list[Field] = [
            *self._order_fields(coid),
            (14, cum),
            (151, max(qty - cum, 0)),
            (6, 0),
            (60, fix_time(event.timestamp)),
        ]
        if isinstance(event, Acknowledged):
            return Outgoing(
                client,
                "8",
                [*base, (17, f"{coid}:new"), (150, "0"), (39, "1" if cum else "0"), *tail],
            )
        if isinstance(event, FillReport):
            f = event.fill
            status = "2" if cum >= qty else "1"
            return Outgoing(
                client,
                "8",
                [
                    *base,
                    (17, f.exec_id),
                    (150, "F"),
                    (39, status),
                    *tail,
                    (32, f.quantity),
                    (31, self.contracts.price(f.contract_id, f.price_ticks)),
                    (12, str(f.commission)),
                    (13, "3"),
                ],
            )
        if isinstance(event, Canceled):
            cancel_id = self.cancel_ids.get(coid)
            ids: list[Field] = [(37, vid or "NONE"), (11, cancel_id or coid)]
            if cancel_id is not None:
                ids.append((41, coid))
            return Outgoing(
                client, "8", [*ids, (17, f"{coid}:canceled"), (150, "4"), (39, "4"), *tail]
            )
        if isinstance(event, Expired):
            return Outgoing(
                client, "8", [*base, (17, f"{coid}:expired"), (150, "C"), (39, "C"), *tail]
            )
        if isinstance(event, Rejected):
            return Outgoing(
                client,
                "8",
                [
                    *base,
                    (17, f"{coid}:rejected"),
                    (150, "8"),
                    (39, "8"),
                    *tail,
                    (103, code_for(event.reason)),
                    (58, f"{event.reason}: {event.message}"[:200]),
                ],
            )
        assert isinstance(event, CancelRejected)  # noqa: S101 - the union is exhausted
        cancel_id = self.cancel_ids.get(coid, f"{coid}:cancel")
        return Outgoing(
            client,
            "9",
            [
                (37, "NONE"),
                (11, cancel_id),
                (41, coid),
                (39, "8"),
                (434, "1"),
                (102, "1" if "unknown" in event.message else "0"),
                (58, f"{event.reason}: {event.message}"[:200]),
                (60, fix_time(event.timestamp)),
            ],
        )

    def _quote_out(self, cid: ContractId) -> list[Outgoing]:
        quote = self.sim.market_quote(cid)
        if quote is None or not self.subscribers:
            return []
        fields: list[Field] = [(262, "md"), *contract_fields(cid), (268, 2)]
        fields += [
            (269, "0"),
            (270, self.contracts.price(cid, quote.bid_ticks)),
            (271, quote.bid_size),
        ]
        fields += [
            (269, "1"),
            (270, self.contracts.price(cid, quote.ask_ticks)),
            (271, quote.ask_size),
        ]
        fields.append((60, fix_time(quote.timestamp)))
        return [Outgoing(c, "W", fields, store=False) for c in sorted(self.subscribers)]

    def state_digest(self) -> str:
        """A digest of everything a replay of the input log rebuilds."""
        return venue_digest(self)

    # -- the message entry point ----------------------------------------------------------
    def tick(self, wall: dt.datetime) -> list[Outgoing]:
        """One step of the price feed (wall-clock mode only)."""
        out: list[Outgoing] = []
        for cid, bid, ask in self.feed.step():
            out += self._input("", "quote", {"contract": cid, "bid": bid, "ask": ask}, wall)
        return out

    def handle(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        msg_type = text(msg, 35) or ""
        handler = self._handlers().get(msg_type)
        if handler is None:
            raise FieldError(35, 11, f"message type {msg_type!r} is not supported")
        _check_lengths(msg)
        return handler(client, msg, wall)

    def _handlers(self) -> dict[str, Callable[[str, Message, dt.datetime], list[Outgoing]]]:
        return {
            "D": self._on_new_order,
            "F": self._on_cancel,
            "G": self._on_replace,
            "H": self._on_status,
            "AF": self._on_mass_status,
            "AN": self._on_positions,
            "BB": self._on_collateral,
            "AD": self._on_trades,
            "V": self._on_market_data,
            "U1": self._on_control,
        }

    def _on_new_order(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        coid = _order_id(msg, 11)
        order_from_new_order(msg, self.contracts, self.clock.now())  # bad fields raise here
        fields = body_fields(msg)
        self.state.count_received(coid, client)
        return self._input(client, "order", {"coid": coid, "fields": fields}, wall)

    def _on_cancel(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        cancel_id, orig = _order_id(msg, 11), _order_id(msg, 41)
        return self._input(client, "cancel", {"orig": orig, "id": cancel_id}, wall)

    def _on_replace(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        coid, orig = _order_id(msg, 11), _order_id(msg, 41)
        order_from_new_order(msg, self.contracts, self.clock.now())
        fields = [(t, v) for t, v in body_fields(msg) if t != 41]
        self.state.count_received(coid, client)
        return self._input(client, "replace", {"orig": orig, "fields": fields}, wall)

    def _status_fields(self, record: OrderStatusRecord) -> list[Field]:
        coid = record.client_order_id
        fields: list[Field] = [
            (37, record.venue_order_id or "NONE"),
            (11, coid),
            (17, f"{coid}:status"),
            (150, "I"),
        ]
        if record.status is VenueOrderStatus.NOT_FOUND:
            return [
                *fields,
                (39, "8"),
                (103, "5"),
                (54, "1"),
                (38, 0),
                (14, 0),
                (151, 0),
                (6, 0),
                (58, "unknown order"),
            ]
        cum = record.filled
        qty = self.orders[coid].quantity if coid in self.orders else cum
        status = (
            ORD_STATUS[record.status]
            if record.status is not VenueOrderStatus.WORKING
            else ("1" if cum else "0")
        )
        when = record.timestamp or self.clock.now()
        return [
            *fields,
            (39, status),
            *self._order_fields(coid),
            (14, cum),
            (151, max(qty - cum, 0)),
            (6, 0),
            (60, fix_time(when)),
        ]

    def _on_status(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        coid = _order_id(msg, 11)
        snap = self.sim.order_status(ClientOrderId(coid))
        assert snap.value is not None  # noqa: S101 - the sim is always connected here
        return [
            Outgoing(
                client,
                "8",
                [*self._status_fields(snap.value), (790, text(msg, 790) or "")],
                store=False,
            )
        ]

    def _on_mass_status(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        req = text(msg, 584) or ""
        opened = self.sim.open_orders().value or ()
        if not opened:
            return [
                Outgoing(
                    client,
                    "8",
                    [
                        (37, "NONE"),
                        (11, "NONE"),
                        (17, "NONE"),
                        (150, "I"),
                        (39, "0"),
                        (584, req),
                        (911, 0),
                        (912, "Y"),
                    ],
                    store=False,
                )
            ]
        out = []
        for n, rec in enumerate(opened, 1):
            status = self.sim.order_status(rec.client_order_id).value
            assert status is not None  # noqa: S101
            fields = [
                *self._status_fields(status),
                (584, req),
                (911, len(opened)),
                (912, "Y" if n == len(opened) else "N"),
            ]
            out.append(Outgoing(client, "8", fields, store=False))
        return out

    def _on_positions(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        req = text(msg, 710) or ""
        books = self.sim.positions().value or {}
        rows = [r for _, r in sorted(books.items()) if r.long or r.short]
        out = [
            Outgoing(
                client,
                "AO",
                [
                    (721, f"{req}:ack"),
                    (710, req),
                    (727, len(rows)),
                    (728, 0 if rows else 2),
                    (729, 0),
                ],
                store=False,
            )
        ]
        for n, r in enumerate(rows, 1):
            fields: list[Field] = [
                (721, f"{req}:{n}"),
                (710, req),
                (727, len(rows)),
                (912, "Y" if n == len(rows) else "N"),
            ]
            fields += [*contract_fields(r.contract_id), (702, 2)]
            fields += [(703, "SOD"), (704, r.long_yesterday), (705, r.short_yesterday)]
            fields += [(703, "TQ"), (704, r.long_today), (705, r.short_today)]
            out.append(Outgoing(client, "AP", fields, store=False))
        return out

    def _on_collateral(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        acct = self.sim.account().value
        assert acct is not None  # noqa: S101
        fields: list[Field] = [(908, "coll"), (909, text(msg, 909) or ""), (15, acct.currency)]
        fields += [
            (900, str(acct.equity)),
            (899, str(acct.margin_available)),
            (20010, str(acct.margin_used)),
            (12, str(acct.commissions)),
        ]
        return [Outgoing(client, "BA", fields, store=False)]

    def _on_trades(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        req = text(msg, 568) or ""
        cursor = text(msg, 20020)
        page = self.sim.fills_since(cursor or None)  # type: ignore[arg-type]
        if page.value is None:
            return [
                Outgoing(
                    client,
                    "AQ",
                    [(568, req), (749, 9), (750, 2), (748, 0), (58, page.reason)],
                    store=False,
                )
            ]
        fills = page.value.fills
        out = [
            Outgoing(
                client,
                "AQ",
                [
                    (568, req),
                    (749, 0),
                    (750, 0),
                    (748, len(fills)),
                    (20021, page.value.next_cursor),
                ],
                store=False,
            )
        ]
        for n, f in enumerate(fills, 1):
            fields: list[Field] = [
                (568, req),
                (571, f.exec_id),
                (17, f.exec_id),
                *contract_fields(f.contract_id),
            ]
            fields += [
                (32, f.quantity),
                (31, self.contracts.price(f.contract_id, f.price_ticks)),
                (60, fix_time(f.timestamp)),
            ]
            fields += [
                (552, 1),
                (54, SIDES[f.side]),
                (37, f.venue_order_id or "NONE"),
                (11, f.client_order_id),
                (12, str(f.commission)),
            ]
            fields.append((912, "Y" if n == len(fills) else "N"))
            out.append(Outgoing(client, "AE", fields, store=False))
        return out

    def _on_market_data(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        if text(msg, 263) == "2":
            self.subscribers.discard(client)
            return []
        self.subscribers.add(client)
        out: list[Outgoing] = []
        for cid in sorted(self.contracts.specs):
            out += [o for o in self._quote_out(cid) if o.client == client]
        return out

    def _transport(self, client: str, op: str, payload: dict[str, str]) -> None:
        if op == "clock":
            self.clock_offset = dt.timedelta(seconds=float(payload["offset"]))
        else:
            self.silenced_except = client if payload["on"] == "1" else None
        log.warning("paper venue: control %s %s from %s", op, payload, client)

    def _on_control(self, client: str, msg: Message, wall: dt.datetime) -> list[Outgoing]:
        op = text(msg, 20100) or ""
        if not self.control:
            raise FieldError(20100, 5, "control messages are disabled on this venue")
        if op == "advance" and not self.manual_clock:
            raise FieldError(20100, 5, "advance needs a venue on a manual clock")
        params = [v for t, v in body_fields(msg) if t == 20102]
        payload = control_payload(op, params, sorted(self.contracts.specs))
        if op in TRANSPORT_KINDS:
            self._transport(client, op, payload)
            out: list[Outgoing] = []
        else:
            out = self._input(client, op, payload, wall)
        return [
            *out,
            Outgoing(
                client,
                "U2",
                [(20100, op), (20101, "ok"), (20103, text(msg, 20103) or "")],
                store=False,
            ),
        ]
