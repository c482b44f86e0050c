"""``bastion init``: a working folder with everything the operator's day needs.

It writes, and lists what it wrote:

- ``profiles/paper.yaml``: the **official** profile, paper trading against the paper
  venue process (``bastion venue serve``) on 127.0.0.1:9878, its drop folder for new
  bars at ``drop/``, the watchdog's settings and a commented alerts section (targets
  to fill in);
- ``profiles/paper-compare.yaml``: a **comparison** profile (the same strategy line with
  another capital): its runs are labelled COMPARISON and never drive an executable route;
- ``profiles/sim.yaml``: a simulated session in process, no broker;
- ``pools/``: the bundled parameter pools of the ``ema_trend`` line;
- ``drop/``: the folder a vendor download or a recorder writes new bar files into.

Paths inside the profiles are relative to the working folder: run every command from
it. Nothing existing is overwritten; a folder that already holds any of these files is
refused with one line naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bastion.errors import UserError
from bastion.files import ensure_folder, write_atomically

__all__ = ["PAPER_PORT", "Workspace", "init_workspace"]

PAPER_PORT = 9878

_PAPER = """\
# The official profile: paper trading against the paper venue process.
# Start the venue first (another terminal, or a service):
#   bastion venue serve --port {port} --state runs/paper/venue.db
name: paper
environment: paper
official: true              # commands given no --profile run this one
strategy_line: ema_trend
capital: 1000000
currency: USD
account: PAPER-000001       # masked in every output
instruments: [SP500]
store:
  path: runs/paper/journal.db
venue:
  kind: fix
  host: 127.0.0.1
  port: {port}
  password_env: BASTION_PAPER_PASSWORD   # the variable holding the password, never the value
  contracts: [SP500/202406]
data:
  dir: bastion-data
  sample: true              # the bundled sample bars, generated on first use
  drop_dir: drop            # new bar files arrive here; 'bastion after-close' imports them
risk:
  max_order_lots: 10
  max_position_lots: 20
  # The paper venue trades the sample's SP500/202406, which expired on 2024-06-21; on a
  # real contract keep the guard (default: 5 trading days before the last trade day).
  expiry_guard_days: 0
records_dir: runs/paper/records
pool: pools
alerts:                     # alerts that reach a person (docs/alerts.md)
  # Where they go: apprise URLs. One that carries a token or password comes from the
  # environment (url_env); a plain webhook without credentials may be written here.
  # targets:
  #   - {{name: phone, url_env: BASTION_ALERT_URL}}   # e.g. tgram://BOT_TOKEN/CHAT_ID
  #   - {{name: desk, url: 'json://127.0.0.1:8000/alerts'}}
  # Check them with: bastion alert test
  min_severity: warning     # info also sends resumes, reconnects and market pauses
  # daily_all_clear: '22:30'          # the watchdog sends the day's all-clear then
  # timezone: America/New_York        # the all-clear's time zone and day
  watchdog:                 # bastion watchdog (a service, or --once from a timer)
    timeout_seconds: 60     # no engine heartbeat this long: alert (critical)
    poll_seconds: 5
    cancel_working_orders: true   # a dead engine's working orders are canceled
    trading_hours: true     # no engine at all while the exchange is open: alert
"""

_COMPARE = """\
# A comparison profile: the same line with another capital. Its runs are labelled
# COMPARISON and never drive an executable route; name it: --profile paper-compare
name: paper-compare
environment: paper
strategy_line: ema_trend
capital: 2000000
currency: USD
account: PAPER-000001
instruments: [SP500]
store:
  path: runs/paper-compare/journal.db
venue:
  kind: fix
  host: 127.0.0.1
  port: {port}
  password_env: BASTION_PAPER_PASSWORD
  contracts: [SP500/202406]
data:
  dir: bastion-data
  sample: true
risk:
  expiry_guard_days: 0      # the paper venue's sample contract expired in 2024
records_dir: runs/paper-compare/records
pool: pools
"""

_SIM = """\
# A simulated multi-day session in process on the bundled sample data: no broker.
#   bastion session --profile sim
name: sim
environment: sim
strategy_line: ema_trend
capital: 1000000
currency: USD
account: SIM-000001
instruments: [SP500, rb]
store:
  path: runs/sim/journal.db
venue:
  kind: sim
  seed: 7
data:
  dir: bastion-data
  sample: true
risk:
  max_order_lots: 10
  max_position_lots: 20
  max_notional: 50000000
  stale_data_seconds: 300   # minute bars: a contract's last tick can be a bar old
fx:                         # rates to the account's currency (USD); rb trades in CNY
  rates: {CNY: "0.1385"}    # fixed, for sim sessions and backtests: 1 CNY = 0.1385 USD
records_dir: runs/sim/records
pool: pools
# alerts:                   # a sim session alerts too (docs/alerts.md)
#   targets:
#     - {name: desk, url: 'json://127.0.0.1:8000/alerts'}
#   min_severity: info
"""


@dataclass(frozen=True, slots=True)
class Workspace:
    root: Path
    made: tuple[Path, ...]
    """Every file and folder made, relative to ``root``."""


def _pools() -> dict[str, str]:
    folder = resources.files("bastion.strategy") / "pools"
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    }


def init_workspace(root: Path, *, port: int = PAPER_PORT) -> Workspace:
    """Make the working folder at ``root`` (see the module docstring)."""
    files = {
        Path("profiles/paper.yaml"): _PAPER.format(port=port),
        Path("profiles/paper-compare.yaml"): _COMPARE.format(port=port),
        Path("profiles/sim.yaml"): _SIM,
        **{Path("pools") / name: text for name, text in _pools().items()},
    }
    taken = [path for path in files if (root / path).exists()]
    if taken:
        raise UserError(
            f"{root / taken[0]} already exists: bastion init never overwrites; choose an empty"
            " folder (bastion init FOLDER)"
        )
    ensure_folder(root, "working folder")
    for path, text in files.items():
        write_atomically(root / path, text, "file")
    ensure_folder(root / "drop", "drop folder")
    return Workspace(root, (*files, Path("drop")))
