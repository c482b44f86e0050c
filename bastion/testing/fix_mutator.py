"""A seeded mutation engine for FIX 4.4 messages aimed at the paper venue.

``FixMutator(seed)`` yields ``Planned`` messages: valid application messages
(NewOrderSingle, OrderCancelRequest, OrderCancelReplaceRequest, status, queries, market
data) and session messages (Heartbeat, TestRequest, ResendRequest, SequenceReset,
Reject, Logon, Logout), most of them then mutated: field values (interesting values,
random bytes, long strings, numbers nudged), types (a number where text goes, text
where a number goes), order (shuffled, swapped), repetition (a field twice), lengths
(values up to 20 KB, some messages over the size cap), tags that are not numbers, the
message type, the header (MsgSeqNum above or below, PossDupFlag, CompIDs, SendingTime)
and the frame (checksum, BodyLength, truncation, junk before it).

The stream of planned messages depends only on the seed (``random.Random``): a failing
run replays exactly. Numbers that depend on the session (MsgSeqNum, a GapFill's
NewSeqNo) are filled in when the message is sent (``Rel``). One rule keeps a run going:
a SequenceReset never moves the venue's expected number more than ``SEQ_JUMP_MAX``
ahead, so the numbers never run into the top of their range.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["SEQ_JUMP_MAX", "FixMutator", "Planned", "Rel"]

SEQ_JUMP_MAX = 1000

_INTERESTING: tuple[bytes, ...] = (
    b"",
    b"0",
    b"-1",
    b"1",
    b"2",
    b"Infinity",
    b"-Infinity",
    b"NaN",
    b"sNaN",
    b"1e30",
    b"1e-30",
    b"1e999999",
    b"9" * 30,
    b"2147483647",
    b"2147483648",
    b"99999999999999999999",
    b"\xff",
    b"\xff\xfe\xfd",
    b"\xc3\x28",
    b"\xe2\x82\xac",
    b"abc",
    b"=",
    b"==1",
    b" ",
    b" 5 ",
    b"0x10",
    b"1_000",
    b"4000.25",
    b"4000.3",
    b"-4000",
    b"Y",
    b"N",
    b"O",
    b"C",
    b"T",
    b"Z",
    b"NONE",
    b"20260302-14:30:00",
    b"20260302-14:30:00.123456",
    b"99991231-23:59:59.999999",
    b"00000000-00:00:00",
    b"2026-03-02T14:30:00Z",
)
_NOT_SOH = bytes(b for b in range(256) if b != 1)
_TAGS = (1, 7, 11, 12, 14, 16, 17, 31, 32, 34, 35, 36, 37, 38, 39, 40, 41, 43, 44, 45, 49, 52)
_TAGS += (54, 55, 56, 58, 59, 60, 99, 108, 112, 122, 123, 126, 150, 200, 262, 263, 584, 710)
_TAGS += (790, 909, 20077, 20100, 20020)
_CONTRACTS = (("ES", "202606", "0.25", 16000), ("NQ", "202606", "0.25", 72000))
_CONTRACTS += (("SP500", "202406", "0.25", 21684), ("ZZ", "209912", "1", 100))


@dataclass(frozen=True, slots=True)
class Rel:
    """A number filled in when the message is sent: ``offset`` from the message's own
    MsgSeqNum, or (``peer``) from the number the sender next expects from the venue."""

    offset: int
    peer: bool = False


Value = bytes | Rel


@dataclass(slots=True)
class Planned:
    """One message to send: type, body pairs, and how to damage its header or frame."""

    msg_type: bytes
    pairs: list[tuple[bytes, Value]]
    kind: str
    """What it was before mutation (``D``, ``F``, ``gapfill``, ...), for the figures."""
    mutations: list[str] = field(default_factory=list)
    seq_shift: int = 0
    """Added to the MsgSeqNum (above: a gap; below: too low)."""
    seq_text: bytes | None = None
    """Sent instead of the MsgSeqNum (garbage, or nothing when empty)."""
    poss_dup: bool = False
    sender: bytes | None = None
    target: bytes | None = None
    sending_time: bytes | None = None
    frame_damage: str = ""
    """'' | 'checksum' | 'length' | 'truncate' | 'junk' | 'oversize'."""

    @property
    def consumes(self) -> bool:
        """Whether the venue uses up this message's number (sent in sequence, a good
        frame, its own CompIDs): the sender's next number moves on."""
        return (
            self.seq_shift == 0
            and self.seq_text is None
            and self.sender is None
            and self.target is None
            and self.frame_damage in {"", "junk"}
        )


class FixMutator:
    def __init__(self, seed: int, mutate: float = 0.6) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - a seeded, replayable stream; nothing secret
        self.mutate_share = mutate
        self._coids: list[bytes] = []
        self._net: dict[str, int] = {}
        self._resting: list[bytes] = []
        self._n = 0
        self._seed = seed

    # -- valid messages ---------------------------------------------------------------
    def _coid(self) -> bytes:
        self._n += 1
        coid = f"F{self._seed}-{self._n}".encode()
        self._coids.append(coid)
        if len(self._coids) > 200:
            del self._coids[: len(self._coids) - 200]
        return coid

    def _known_coid(self) -> bytes:
        return self.rng.choice(self._coids) if self._coids else b"F-none"

    def _order_fields(self, coid: bytes) -> list[tuple[bytes, Value]]:
        rng = self.rng
        listed = _CONTRACTS[:3] if rng.random() < 0.97 else _CONTRACTS  # ZZ: not listed
        symbol, maturity, tick, mid = rng.choice(listed)
        order_type = rng.choice((b"1", b"2", b"2", b"2", b"3", b"4"))
        # Lean against what the orders sent so far would hold, so positions (and the
        # margin they use) stay bounded and orders keep trading all run long.
        net = self._net.get(symbol, 0)
        buy = rng.random() < 0.5 - max(-0.4, min(0.4, net / 25))
        quantity = rng.randint(1, 3)
        self._net[symbol] = net + (quantity if buy else -quantity)
        # Most orders do not rest (IOC/FOK), and cancels go mostly to recent resting
        # ones: resting orders hold margin, and a venue out of margin rejects all.
        tif = rng.choice((b"0", b"1", b"3", b"3", b"4"))
        if tif in {b"0", b"1"} and order_type != b"1":
            self._resting.append(coid)
            del self._resting[:-30]
        pairs: list[tuple[bytes, Value]] = [
            (b"11", coid),
            (b"1", b"fuzz"),
            (b"55", symbol.encode()),
            (b"200", maturity.encode()),
            (b"54", b"1" if buy else b"2"),
            (b"60", b"20260302-14:30:00.000000"),
            (b"38", str(quantity).encode()),
            (b"40", order_type),
            (b"59", tif),
        ]
        step = float(tick)
        if order_type in {b"2", b"4"}:
            pairs.append((b"44", f"{(mid + rng.randint(-8, 8)) * step:.2f}".encode()))
        if order_type in {b"3", b"4"}:
            pairs.append((b"99", f"{(mid + rng.randint(-8, 8)) * step:.2f}".encode()))
        if rng.random() < 0.2:
            pairs.append((b"20077", rng.choice((b"O", b"C", b"T", b"Y"))))
        return pairs

    def _base(self) -> tuple[bytes, list[tuple[bytes, Value]], str]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.30:
            return b"D", self._order_fields(self._coid()), "D"
        if roll < 0.45:
            recent = self._resting and rng.random() < 0.7
            orig = self._resting.pop() if recent else self._known_coid()
            cancel = [(b"41", orig), (b"11", orig + b"~X" + str(self._n).encode())]
            cancel += [(b"55", b"ES"), (b"200", b"202606"), (b"54", b"1"), (b"38", b"1")]
            return b"F", cancel, "F"
        if roll < 0.55:
            orig = self._known_coid()
            return b"G", [(b"41", orig), *self._order_fields(self._coid())], "G"
        if roll < 0.60:
            return b"H", [(b"11", self._known_coid()), (b"790", b"q")], "H"
        if roll < 0.65:
            query = rng.choice(
                (
                    (b"AF", [(b"584", b"m"), (b"585", b"7")]),
                    (b"AN", [(b"710", b"p"), (b"724", b"0")]),
                    (b"BB", [(b"909", b"c"), (b"910", b"0")]),
                    (b"AD", [(b"568", b"t"), (b"569", b"0"), (b"20020", b"0")]),
                    (b"V", [(b"262", b"md"), (b"263", rng.choice((b"1", b"2")))]),
                )
            )
            return query[0], list(query[1]), query[0].decode()
        return self._session_message()

    def _session_message(self) -> tuple[bytes, list[tuple[bytes, Value]], str]:  # noqa: PLR0911
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            return b"0", [], "heartbeat"
        if roll < 0.5:
            return b"1", [(b"112", f"fz{self._n}".encode())], "test_request"
        if roll < 0.65:
            begin = Rel(-rng.randint(1, 50), peer=True)
            return b"2", [(b"7", begin), (b"16", b"0")], "resend_request"
        if roll < 0.8:
            return b"4", [(b"123", b"Y"), (b"36", Rel(rng.randint(1, 3)))], "gapfill"
        if roll < 0.9:
            return b"4", [(b"36", Rel(rng.randint(1, 3)))], "reset"
        if roll < 0.95:
            return b"3", [(b"45", Rel(-1)), (b"58", b"fuzz")], "reject"
        if roll < 0.99:
            return b"A", [(b"98", b"0"), (b"108", b"30")], "logon"
        return b"5", [(b"58", b"fuzz logout")], "logout"

    # -- mutation ---------------------------------------------------------------------
    def next_message(self) -> Planned:
        msg_type, pairs, kind = self._base()
        planned = Planned(msg_type, pairs, kind)
        if self.rng.random() < self.mutate_share:
            for _ in range(self.rng.choice((1, 1, 1, 2, 2, 3, 5))):
                self._mutate(planned)
        self._keep_numbers_usable(planned)
        return planned

    def _value(self) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.6:
            return rng.choice(_INTERESTING)
        if roll < 0.85:
            return bytes(rng.choice(_NOT_SOH) for _ in range(rng.randint(0, 24)))
        if roll < 0.97:
            return b"x" * rng.randint(100, 4000)
        return b"y" * rng.randint(20_000, 70_000)  # over the size cap once framed, sometimes

    def _mutate(self, p: Planned) -> None:  # noqa: PLR0912 - one branch per operator
        rng, pairs = self.rng, p.pairs
        op = rng.choice(
            (
                "value", "value", "value", "nudge", "nudge", "drop", "repeat", "shuffle",
                "swap", "insert", "bad_tag", "msg_type", "header", "frame",
            )
        )  # fmt: skip
        p.mutations.append(op)
        index = rng.randrange(len(pairs)) if pairs else -1
        if op == "value" and index >= 0:
            pairs[index] = (pairs[index][0], self._value())
        elif op == "nudge" and index >= 0:
            value = pairs[index][1]
            if isinstance(value, bytes) and value.replace(b".", b"").lstrip(b"-").isdigit():
                pairs[index] = (pairs[index][0], self._nudged(value))
            else:
                pairs[index] = (pairs[index][0], str(rng.randint(-10, 10**6)).encode())
        elif op == "drop" and index >= 0:
            del pairs[index]
        elif op == "repeat" and index >= 0:
            pairs.insert(rng.randrange(len(pairs) + 1), (pairs[index][0], self._value()))
        elif op == "shuffle":
            rng.shuffle(pairs)
        elif op == "swap" and len(pairs) > 1:
            i, j = rng.randrange(len(pairs)), rng.randrange(len(pairs))
            pairs[i], pairs[j] = pairs[j], pairs[i]
        elif op == "insert":
            tag = rng.choice(_TAGS) if rng.random() < 0.8 else rng.randint(1, 999_999)
            pairs.insert(rng.randrange(len(pairs) + 1), (str(tag).encode(), self._value()))
        elif op == "bad_tag":
            bad = rng.choice((b"abc", b"", b"-5", b"0", b"1.5", b"\xff", b"99999999999"))
            pairs.insert(rng.randrange(len(pairs) + 1), (bad, b"1"))
        elif op == "msg_type":
            p.msg_type = rng.choice(
                (b"D", b"F", b"G", b"H", b"8", b"9", b"j", b"W", b"U1", b"ZZ", b"", b"\xff", b"DD")
            )
        elif op == "header":
            self._mutate_header(p)
        else:
            p.frame_damage = rng.choice(("checksum", "length", "truncate", "junk", "oversize"))

    def _nudged(self, value: bytes) -> bytes:
        """A number changed a little: its sign, a digit more, a fraction, an exponent,
        one more or one less."""
        text = value.decode()
        whole = text.lstrip("-").split(".", 1)[0]
        step = str(int(whole) + self.rng.choice((-1, 1))) if whole.isdigit() else "1"
        return self.rng.choice((f"-{text}", f"{text}0", f"{text}.5", f"{text}e3", step)).encode()

    def _mutate_header(self, p: Planned) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            p.seq_shift = rng.randint(1, 5)
        elif roll < 0.45:
            p.seq_shift = -rng.randint(1, 3)
            p.poss_dup = rng.random() < 0.7
        elif roll < 0.6:
            p.seq_text = rng.choice((b"", b"abc", b"-1", b"0", b"99999999999999999999", b"\xff"))
        elif roll < 0.7:
            p.sender = rng.choice((b"EVIL", b"", b"\xff"))
        elif roll < 0.8:
            p.target = rng.choice((b"OTHER", b""))
        elif roll < 0.9:
            p.sending_time = self._value()[:40]
        else:
            p.poss_dup = True

    def _keep_numbers_usable(self, p: Planned) -> None:
        """A SequenceReset may not jump the venue's numbers far ahead (see module)."""
        if p.msg_type != b"4":
            return
        for n, (tag, value) in enumerate(p.pairs):
            if tag != b"36" or isinstance(value, Rel):
                continue
            text = value.strip()
            if text.isdigit() and len(text) <= 10 and int(text) > SEQ_JUMP_MAX:
                p.pairs[n] = (tag, Rel(self.rng.randint(1, SEQ_JUMP_MAX)))
