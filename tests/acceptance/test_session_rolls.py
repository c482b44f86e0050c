"""Acceptance: a simulated session on the bundled sample data rolls across each expiry
(passive before the roll date, then forced): positions end in the new contracts, nothing
is left in the old ones, and roll orders leave the instrument (strategy) position
unchanged: for each instrument the strategy table equals the contract table."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bastion.backtest.session import run_session
from bastion.config import parse_profile
from bastion.domain.orders import BrokerOrder, ContractOrder
from bastion.store import SqliteStore
from tests.conftest import REPO

OLD = {"SP500": "SP500/202403", "rb": "rb/202405"}
NEW = {"SP500": "SP500/202406", "rb": "rb/202410"}


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def _profile(tmp: Path, data: Path, line: str):  # type: ignore[no-untyped-def]
    raw = yaml.safe_load((REPO / "examples" / "sim.yaml").read_text())
    raw.update(strategy_line=line, store={"path": str(tmp / "sim" / "journal.db")})
    raw["data"] = {"dir": str(data), "sample": True}
    raw["records_dir"] = str(tmp / "sim" / "records")
    return parse_profile(raw, "test")


@pytest.mark.parametrize("line", ["hold", "ema_trend"])
def test_session_rolls_end_in_new_contract_instrument_unchanged(
    tmp_path: Path, sample_dir: Path, line: str
) -> None:
    profile = _profile(tmp_path, sample_dir, line)
    result = run_session(profile)
    assert len(result.days) > 60
    for instrument in ("SP500", "rb"):
        assert result.positions.get(OLD[instrument], 0) == 0
        strategy = result.strategy_positions.get(f"{line}/{instrument}", 0)
        assert result.positions.get(NEW[instrument], 0) == strategy
    if line == "hold":
        assert result.positions == {
            NEW["SP500"]: profile.risk.max_order_lots // 2,
            NEW["rb"]: profile.risk.max_order_lots // 2,
        }
    store = SqliteStore(result.journal)
    assert store.verify_projections()
    history = store.book.history.values()
    rolls = [o for o in history if isinstance(o, ContractOrder) and o.roll]
    if line == "hold":  # nothing trades before the roll date: only a forced roll moves it
        assert rolls, "a forced roll order was expected for positions held into the roll date"
    roll_ids = {o.order_id for o in rolls}
    for instrument in ("SP500", "rb"):
        moved = sum(
            o.filled * o.side.sign
            for o in history
            if isinstance(o, BrokerOrder)
            and o.parent_id in roll_ids
            and o.contract_id.startswith(instrument + "/")
        )
        assert moved == 0, f"roll orders changed the {instrument} position by {moved}"
    store.close()
