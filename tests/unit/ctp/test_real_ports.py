"""The real binding behind the narrow ports, without a front: the flow folder is made
first (the binding crashes the process on a missing one), market-data symbols go as the
binding wants them, and a request while not connected answers -1, never raising.

Invariant: the ports never hand the binding something that kills the process.
"""

from __future__ import annotations

from pathlib import Path

from bastion.venues.ctp.port import RealMdPort, RealTraderPort
from bastion.venues.ctp.runtime import load_binding
from tests.ctp_binding import require_ctp_binding

require_ctp_binding()  # before any test imports the binding (it may abort)


def test_real_ports_make_their_flow_folder_and_answer_minus_one_unconnected(
    tmp_path: Path,
) -> None:
    binding = load_binding()
    md = RealMdPort(binding, tmp_path / "not" / "yet" / "md")
    try:
        assert md.subscribe(["rb2410", "m2409"]) == -1
    finally:
        md.stop()
    trader = RealTraderPort(binding, tmp_path / "not" / "yet" / "trader")
    try:
        assert trader.front_limits() == (0, 0)
        field = binding.trader.CThostFtdcQryTradingAccountField()
        assert trader.query_account(field, 1) == -1
    finally:
        trader.stop()
    assert (tmp_path / "not" / "yet" / "trader").is_dir()
