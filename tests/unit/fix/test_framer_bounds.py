"""The framer never buffers more than one frame's worth of bytes, whatever arrives.

Invariants: a BodyLength followed by megabytes of digits is garbled as soon as the
length field overruns, and the buffer stays bounded (the issue saw 64 MiB buffered); a
frame claiming more than the size cap is garbled; a BeginString that never ends is
garbled; a good frame after the junk is still read; a good frame's number is known.
"""

from __future__ import annotations

import datetime as dt

from bastion.venues.fix.wire import MAX_BODY, Framer, encode

T0 = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)
_BOUND = MAX_BODY + 1024


def test_framer_flood_of_body_length_digits_stays_bounded() -> None:
    framer = Framer()
    framer.feed(b"8=FIX.4.4\x019=")
    chunk = b"7" * 65536
    garbled = []
    for _ in range(1024):  # 64 MiB in the chunks a socket read gives
        framer.feed(chunk)
        garbled += [f.garbled for f in framer.frames() if f.garbled]
        assert len(framer._buf) <= _BOUND
    assert garbled
    assert "BodyLength" in garbled[0]
    good = encode("0", [], seq=2, sender="A", target="B", now=T0)
    framer.feed(b"\x01" + good)
    assert [f.raw for f in framer.frames() if not f.garbled] == [good]


def test_framer_frame_over_the_size_cap_is_garbled() -> None:
    framer = Framer()
    framer.feed(b"8=FIX.4.4\x019=%d\x0135=D\x01" % (MAX_BODY + 1))
    (frame,) = framer.frames()
    assert "BodyLength" in frame.garbled
    assert len(framer._buf) <= _BOUND


def test_framer_begin_string_without_end_is_garbled() -> None:
    framer = Framer()
    framer.feed(b"8=FIX" + b"X" * 100_000)
    frames = framer.frames()
    assert frames
    assert frames[0].garbled
    assert len(framer._buf) <= _BOUND


def test_framer_good_frame_carries_its_number() -> None:
    framer = Framer()
    framer.feed(encode("0", [], seq=41, sender="A", target="B", now=T0))
    (frame,) = framer.frames()
    assert frame.garbled == ""
    assert frame.seq == 41


def test_framer_message_cut_short_does_not_swallow_the_next_one() -> None:
    cut = encode("D", [(11, "X1"), (58, "x" * 500)], seq=2, sender="A", target="B", now=T0)
    good = encode("1", [(112, "ping")], seq=3, sender="A", target="B", now=T0)
    framer = Framer()
    framer.feed(cut[: cut.index(b"\x0158=") + 1] + good)  # cut after a field
    frames = framer.frames()
    assert [bool(f.garbled) for f in frames] == [True, False]
    assert frames[1].raw == good


def test_framer_message_cut_inside_a_value_does_not_swallow_the_next_one() -> None:
    """Found by the fuzzer: cut in the middle of a value, no SOH precedes the next one."""
    cut = encode("D", [(11, "X1"), (58, "y" * 500)], seq=2, sender="A", target="B", now=T0)
    good = encode("1", [(112, "ping")], seq=3, sender="A", target="B", now=T0)
    framer = Framer()
    framer.feed(cut[:300] + good)
    frames = framer.frames()
    assert [bool(f.garbled) for f in frames] == [True, False]
    assert frames[1].raw == good
