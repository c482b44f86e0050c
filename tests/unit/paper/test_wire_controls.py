"""Invariant: the paper venue's wire controls (``clock``, ``silence``) are checked in
full before they act, refused with the tag and what was expected, and never logged as
venue inputs (a restarted venue starts with neither)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bastion.domain.ids import ContractId
from bastion.venues.fix.wire import FieldError, decode, encode
from bastion.venues.paper.contracts import DEFAULT_CONTRACTS, START_PRICES
from bastion.venues.paper.controls import control_payload
from bastion.venues.paper.state import PaperState
from bastion.venues.paper.venue import PaperVenue

CONTRACTS = [ContractId("SP500/202406")]
NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("op", "params", "why"),
    [
        ("clock", ["offset=soon"], "offset must be"),
        ("clock", ["offset=nan"], "offset must be"),
        ("clock", ["offset=-1e12"], "offset must be"),
        ("clock", [], "control clock needs offset"),
        ("silence", ["on=yes"], "on must be 0 or 1"),
        ("silence", ["on=1", "contract=SP500/202406"], "takes no parameter 'contract'"),
    ],
)
def test_wire_control_with_bad_parameters_is_refused_naming_them(
    op: str, params: list[str], why: str
) -> None:
    with pytest.raises(FieldError, match=why):
        control_payload(op, params, CONTRACTS)


def test_wire_controls_act_on_the_venue_and_are_not_logged(tmp_path: Path) -> None:
    state = PaperState(tmp_path / "venue.db")
    venue = PaperVenue(state, dict(DEFAULT_CONTRACTS), dict(START_PRICES), start=NOW, control=True)

    def control(op: str, *params: str) -> None:
        fields = [(20100, op), *((20102, p) for p in params), (20103, "t")]
        msg = decode(encode("U1", fields, seq=2, sender="BASTION", target="PAPER", now=NOW))
        with state.transaction():
            out = venue.handle("BASTION", msg, NOW)
        assert [o.msg_type for o in out] == ["U2"]

    control("clock", "offset=-7.5")
    control("silence", "on=1")
    assert venue.clock_offset == dt.timedelta(seconds=-7.5)
    assert venue.silenced_except == "BASTION"
    control("silence", "on=0")
    assert venue.silenced_except is None
    assert list(state.inputs()) == []  # nothing for a replay to meet
    state.close()
