"""Profiles: named, validated configuration (R1).

A profile says which strategy line runs with what capital, on which account, against
which venue and store, in which environment (``sim``, ``paper`` or ``live``). Models are
strict and frozen: an unknown key is an error that names it, and every error names the
field, the bad value and the expected form (R1.4), on one line, before anything
connects. Secrets are names of environment variables, never values (R1.3). Cross-wiring
between environments is refused (R1.2).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import zoneinfo
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bastion.errors import ConfigError
from bastion.secrets import SECRET_KEY_PATTERN, mask_account

__all__ = [
    "AlertTarget",
    "AlertsConfig",
    "AlgoConfig",
    "BestAlgoConfig",
    "BreachAction",
    "CtpTerminal",
    "DataConfig",
    "Environment",
    "ExecutionConfig",
    "FxConfig",
    "MarketAlgoConfig",
    "Profile",
    "RiskConfig",
    "StoreConfig",
    "TwapAlgoConfig",
    "VenueConfig",
    "WatchdogConfig",
    "load_profile",
    "profile_schema",
    "redacted_view",
]

# Bounds on every number a profile holds (R1.4, issue 16): a value outside them is a
# typing slip (``capital: 1e400``, ``max_order_lots: 10**26``), never a real setting, and
# refused with the field, the value and the bound. Lots and ticks stay far inside int64
# (the journal's integers); money stays far inside what Decimal arithmetic keeps exact.
MAX_LOTS = 1_000_000
"""Lots in one order or one position: a million."""
MAX_TICKS = 1_000_000
"""A distance in ticks (tolerances, spreads): a million."""
MAX_MONEY = Decimal(10) ** 15
"""Capital, notional and loss limits, in the account currency: a thousand trillion."""
MAX_RATE = 10_000.0
"""Orders per second."""
MAX_SECONDS = 86_400.0 * 7
"""Timeouts and ages: a week."""
MAX_COUNT = 100_000
"""Bursts, attempts and similar counts."""

Lots = Annotated[int, Field(ge=0, le=MAX_LOTS)]
Money = Annotated[Decimal, Field(gt=0, le=MAX_MONEY, allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]

VENUE_GROUP = "bastion.venues"
"""The entry-point group where each venue kind registers its builder (pyproject.toml)."""


@functools.cache
def registered_venues() -> dict[str, str]:
    """Venue kind -> ``module:BUILDER``, from the installed package's entry points (no
    venue is imported to list them)."""
    return {ep.name: ep.value for ep in entry_points(group=VENUE_GROUP)}


ENV_VAR = r"^[A-Z][A-Z0-9_]*$"
EnvVarName = Annotated[str, Field(pattern=ENV_VAR, description="name of an environment variable")]

IB_LIVE_PORTS = frozenset({7496, 4001})
IB_PAPER_PORTS = frozenset({7497, 4002})
CTP_SIMNOW_BROKER = "9999"
CTP_FRONT = r"^(tcp|ssl|fake)://[A-Za-z0-9_.\-]+(:\d{1,5})?$"
CTP_ENV_TOKENS = {"simnow": "SIMNOW", "broker_test": "TEST", "live": "LIVE"}
"""The word each CTP environment's credential variables carry (and the others' must not)."""


class Environment(StrEnum):
    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class CtpTerminal(_Strict):
    """Terminal information sent at authentication and login (R10.3). A direct-connect
    client's API collects the terminal's system information itself; these are the fields
    the profile may add (brokers' test fronts check ``product_info`` against the AppID)."""

    product_info: str = Field(
        default="BASTION", max_length=10, description="UserProductInfo at authentication/login"
    )
    client_ip: str | None = Field(default=None, max_length=32, description="ClientIPAddress")
    client_port: int | None = Field(default=None, ge=0, le=65535, description="ClientIPPort")
    mac_address: str | None = Field(default=None, max_length=20, description="MacAddress")
    login_remark: str | None = Field(default=None, max_length=35, description="LoginRemark")


class StoreConfig(_Strict):
    kind: Literal["sqlite"] = "sqlite"
    path: Path = Field(description="journal database file; its path must name the environment")


class VenueConfig(_Strict):
    kind: str = Field(default="sim", description="a registered venue kind (sim, fix, ...)")
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535)
    client_id: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="IB client id, one per process"
    )
    broker_id: str | None = Field(default=None, description="CTP broker id")
    front: str | None = Field(
        default=None, pattern=CTP_FRONT, description="CTP trade front, tcp://host:port"
    )
    md_front: str | None = Field(
        default=None, pattern=CTP_FRONT, description="CTP market-data front, tcp://host:port"
    )
    ctp_environment: Literal["simnow", "broker_test", "live"] | None = Field(
        default=None,
        description="which CTP fronts: SimNow, a broker's test front, or live; each has its"
        " own credential variables",
    )
    terminal: CtpTerminal = CtpTerminal()
    read_only: bool = False
    user_env: EnvVarName | None = None
    password_env: EnvVarName | None = None
    auth_code_env: EnvVarName | None = None
    app_id: str | None = None
    seed: int = Field(default=7, ge=0, le=2**63 - 1, description="seed of the simulated venue")
    sender_comp_id: str = Field(
        default="BASTION", pattern=r"^[A-Za-z0-9_.\-]+$", description="FIX SenderCompID"
    )
    target_comp_id: str = Field(
        default="PAPER", pattern=r"^[A-Za-z0-9_.\-]+$", description="FIX TargetCompID"
    )
    heartbeat_seconds: int = Field(default=5, ge=1, le=300, description="FIX HeartBtInt")
    max_clock_skew_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="the venue's clock may differ from this machine's by this much; beyond,"
        " new orders halt until it is back within",
    )
    compare_clock: bool | None = Field(
        default=None,
        description="CTP: compare the exchange times the counter reports with this machine's"
        " clock (skew halts); unset: yes, except on SimNow, whose 7x24 front replays old"
        " exchange times",
    )
    silence_seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="a venue that sends nothing for this long is treated as disconnected"
        " (unset: the adapter's own heartbeat decides)",
    )
    lost_grace_seconds: float = Field(
        default=30.0,
        gt=0,
        le=86_400,
        description="an order marked LOST counts as still working this long; then the venue"
        " is asked again, and only a second 'no record' lets its intent be sent again",
    )
    contracts: tuple[str, ...] = Field(
        default=(),
        description="contracts traded at this venue (INSTRUMENT/YYYYMM); FIX and IB need them",
    )
    market_data_type: int = Field(
        default=1,
        ge=1,
        le=4,
        description="IB market data type: 1 live; 2 frozen, 3 delayed, 4 delayed frozen (stale)",
    )
    market_as_limit_ticks: int | None = Field(
        default=None,
        ge=0,
        description="IB: send market orders as limits this many ticks through the touch",
    )

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        kinds = sorted(registered_venues())
        if kind not in kinds:
            raise ValueError(
                f"venue kind {kind!r} has no registered builder; registered kinds:"
                f" {', '.join(kinds)}"
            )
        return kind

    @field_validator("contracts")
    @classmethod
    def _contract_ids(cls, contracts: tuple[str, ...]) -> tuple[str, ...]:
        from bastion.domain.contracts import parse_contract_id

        for cid in contracts:
            parse_contract_id(cid)
        if len(set(contracts)) != len(contracts):
            raise ValueError(f"contracts {list(contracts)} lists a contract twice")
        return contracts


class DataConfig(_Strict):
    dir: Path = Field(default=Path("bastion-data"), description="bar store and imported data")
    sample: bool = Field(default=True, description="generate the bundled sample data if absent")
    drop_dir: Path | None = Field(
        default=None,
        description="folder where a vendor download or a recorder drops new bar files;"
        " 'bastion data update' and 'bastion after-close' import them (no network)",
    )


BreachAction = Literal["reduce", "halt", "kill"]
"""What a breached limit does: REDUCE_ONLY, HALTED, or HALTED and the kill switch."""


class RiskConfig(_Strict):
    """Risk limits (R6). Changeable at run time with ``bastion risk limits --set``."""

    max_order_lots: int = Field(default=10, ge=1, le=MAX_LOTS)
    max_position_lots: Lots = Field(default=20, description="per instrument, net")
    max_strategy_position_lots: Lots | None = Field(
        default=None, description="per strategy and instrument, net; unset: no extra limit"
    )
    instrument_position_lots: dict[str, Lots] = Field(
        default_factory=dict, description="per-instrument overrides of max_position_lots"
    )
    max_traded_lots_per_day: Lots | None = Field(
        default=None,
        description="lots traded per instrument per account trading day, buys and sells"
        " together; a broker order is cut to fit; unset: no limit",
    )
    instrument_traded_lots_per_day: dict[str, Lots] = Field(
        default_factory=dict, description="per-instrument overrides of max_traded_lots_per_day"
    )
    max_notional: Money = Field(default=Decimal(5000000), description="per order")
    price_tolerance_percent: Decimal = Field(
        default=Decimal(5),
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="price-sanity band: a limit or stop price at most this % from the last price",
    )
    price_tolerance_ticks: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TICKS,
        description="price-sanity band in ticks for every instrument; the tighter band applies",
    )
    instrument_tolerance_ticks: dict[str, Annotated[int, Field(ge=1, le=MAX_TICKS)]] = Field(
        default_factory=dict,
        description="price-sanity band in ticks per instrument (tighter than percent applies)",
    )
    orders_per_second: float | None = Field(
        default=None,
        gt=0,
        le=MAX_RATE,
        allow_inf_nan=False,
        description="order-rate bucket; unset: the venue's declared limit",
    )
    order_burst: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    daily_loss_limit: Money | None = None
    weekly_loss_limit: Money | None = None
    max_drawdown: Money | None = None
    daily_loss_action: BreachAction = "halt"
    weekly_loss_action: BreachAction = "halt"
    max_drawdown_action: BreachAction = "halt"
    margin_high_mark: Decimal = Field(default=Decimal("0.9"), gt=0, le=1, allow_inf_nan=False)
    margin_low_mark: Decimal = Field(default=Decimal("0.7"), gt=0, le=1, allow_inf_nan=False)
    stale_data_seconds: Seconds = Field(default=30.0, description="no tick this long: pause")
    max_spread_ticks: int | None = Field(
        default=10,
        ge=1,
        le=MAX_TICKS,
        description="spread breaker: a wider spread pauses new orders; none: off",
    )
    instrument_spread_ticks: dict[str, Annotated[int, Field(ge=1, le=MAX_TICKS)]] = Field(
        default_factory=dict, description="spread breaker per instrument (over max_spread_ticks)"
    )
    spread_hold_seconds: float = Field(
        default=30.0,
        ge=0,
        le=MAX_SECONDS,
        allow_inf_nan=False,
        description="after a wide spread, orders wait this long with normal spreads",
    )
    expiry_guard_days: int = Field(
        default=5,
        ge=0,
        le=250,
        description="trading days before a contract's last trade day or first notice day"
        " from which nothing opens in it and a held position alerts; 0: off",
    )
    kill_ticks_through: int = Field(
        default=5, ge=0, le=MAX_TICKS, description="kill-switch flatten: ticks through the touch"
    )
    kill_timeout_seconds: Seconds = Field(default=5.0, description="per kill-switch wait")
    kill_attempts: int = Field(
        default=3, ge=1, le=MAX_COUNT, description="cancel and flatten rounds"
    )

    @model_validator(mode="after")
    def _marks_ordered(self) -> RiskConfig:
        if self.margin_low_mark >= self.margin_high_mark:
            raise ValueError(
                f"margin_low_mark {self.margin_low_mark} must be below"
                f" margin_high_mark {self.margin_high_mark}"
            )
        return self


CURRENCY = r"^[A-Z]{3}$"
Currency = Annotated[str, Field(pattern=CURRENCY, description="ISO 4217 code, e.g. CNY")]
Rate = Annotated[Decimal, Field(gt=0, le=MAX_MONEY, allow_inf_nan=False)]


class FxConfig(_Strict):
    """Rates to the account's base currency (the profile's ``currency``) for contracts
    that trade in another (``bastion.domain.fx``). A missing or stale rate refuses the
    instruments in that currency; nothing is added one for one."""

    rates: dict[Currency, Rate] = Field(
        default_factory=dict,
        description="fixed rates, base units per one unit of each currency (sim profiles)",
    )
    file: Path | None = Field(
        default=None,
        description="dated rates written by 'bastion data fx import';"
        " default <data.dir>/fx/rates.yaml",
    )
    max_age_days: int = Field(
        default=4, ge=0, le=366, description="a dated rate older than this (days) is stale"
    )

    @model_validator(mode="after")
    def _one_source(self) -> FxConfig:
        if self.rates and self.file is not None:
            raise ValueError("fx: give fixed rates or a rates file, not both")
        return self


class MarketAlgoConfig(_Strict):
    """One market order for what is left."""

    algo: Literal["market"] = "market"


class BestAlgoConfig(_Strict):
    """A passive limit at our side of the touch, aggressive after a while (R4.4)."""

    algo: Literal["best"]
    patience_seconds: Seconds = Field(default=300.0, description="then turn aggressive")
    adverse_ticks: int = Field(default=2, ge=1, le=MAX_TICKS, description="a move against us")
    close_window_seconds: float = Field(
        default=600.0,
        ge=0,
        le=MAX_SECONDS,
        allow_inf_nan=False,
        description="aggressive this close to the session end",
    )


class TwapAlgoConfig(_Strict):
    """Clips at a fixed interval, each small against the visible size (R4.4)."""

    algo: Literal["twap"]
    interval_seconds: Seconds = Field(default=60.0, description="between clips")
    clip_lots: int = Field(default=5, ge=1, le=MAX_LOTS, description="largest clip")
    liquidity_fraction: float = Field(
        default=0.2,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="a clip is at most this share of the visible size",
    )


AlgoConfig = Annotated[
    MarketAlgoConfig | BestAlgoConfig | TwapAlgoConfig, Field(discriminator="algo")
]


class ExecutionConfig(_Strict):
    """How contract orders are worked (R4.4): an algo for every instrument."""

    default: AlgoConfig = MarketAlgoConfig()
    instruments: dict[str, AlgoConfig] = Field(
        default_factory=dict, description="per instrument, over the default"
    )

    def for_instrument(self, instrument: str) -> AlgoConfig:
        return self.instruments.get(instrument, self.default)


Severity = Literal["info", "warning", "critical"]
"""How urgent an alert is; a target receives alerts at or above its threshold."""

SECRET_FREE_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
"""Notification URL schemes that may be written in the file (plain webhooks); every other
scheme (Telegram, email, Slack...) carries a token or password and comes from ``url_env``."""


class AlertTarget(_Strict):
    """One place alerts go: an apprise URL, from an environment variable (R1.3)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="label in logs and the outbox")
    url_env: EnvVarName | None = Field(
        default=None,
        description="environment variable holding the apprise URL (tgram://..., mailtos://...)",
    )
    url: str | None = Field(
        default=None,
        description="a plain webhook URL without credentials (json://, form://, xml:// only)",
    )
    min_severity: Severity | None = Field(
        default=None, description="this target's threshold; unset: alerts.min_severity"
    )

    @model_validator(mode="after")
    def _one_source(self) -> AlertTarget:
        if (self.url is None) == (self.url_env is None):
            raise ValueError(f"alert target {self.name}: give exactly one of url_env or url")
        if self.url is not None:
            scheme, sep, rest = self.url.partition("://")
            if not sep or scheme.lower() not in SECRET_FREE_SCHEMES:
                raise ValueError(
                    f"alert target {self.name}: url {scheme + sep or self.url!r} may carry a"
                    " secret; put the URL in an environment variable and name it in url_env"
                    f" (url is for {', '.join(sorted(SECRET_FREE_SCHEMES))} webhooks only)"
                )
            if "@" in rest.split("/", 1)[0]:
                raise ValueError(
                    f"alert target {self.name}: url holds a user or password; use url_env"
                )
        return self


class WatchdogConfig(_Strict):
    """The watchdog for a silent engine (``bastion watchdog``)."""

    timeout_seconds: float = Field(
        default=60.0, gt=0, description="no engine heartbeat this long while it should run: alert"
    )
    poll_seconds: float = Field(default=5.0, gt=0, description="how often the watchdog looks")
    cancel_working_orders: bool = Field(
        default=False,
        description="when the engine is dead, cancel every working order at the venue",
    )
    cancel_timeout_seconds: float = Field(
        default=15.0, gt=0, description="how long the watchdog waits for the venue to confirm"
    )
    trading_hours: bool = Field(
        default=True,
        description="alert when no engine ever started while an instrument's exchange is open"
        " (its calendar's session) for timeout_seconds",
    )


class AlertsConfig(_Strict):
    """Alerts that reach a person (R9.5): where they go and how many."""

    targets: tuple[AlertTarget, ...] = Field(default=(), description="where alerts are sent")
    min_severity: Severity = Field(default="warning", description="send this and above")
    rate_limit_count: int = Field(
        default=10, ge=1, description="alerts of one severity per window; more are summarized"
    )
    rate_limit_window_seconds: float = Field(default=60.0, gt=0)
    queue_size: int = Field(default=1000, ge=1, description="alerts waiting to be sent, at most")
    retry_initial_seconds: float = Field(default=2.0, gt=0, description="first retry delay")
    retry_max_seconds: float = Field(default=300.0, gt=0, description="longest retry delay")
    retry_attempts: int = Field(default=20, ge=1, description="attempts before giving up")
    disconnect_seconds: float = Field(
        default=60.0, ge=0, description="a venue disconnect longer than this alerts"
    )
    clock_skew_seconds: float = Field(
        default=2.0,
        gt=0,
        description="the venue's clock this far from ours warns, below the venue's halt"
        " limit (a skew past venue.max_clock_skew_seconds always alerts)",
    )
    daily_all_clear: dt.time | None = Field(
        default=None, description="local time of the daily all-clear (after the close), HH:MM"
    )
    timezone: str = Field(default="UTC", description="IANA zone of daily_all_clear")
    watchdog: WatchdogConfig = WatchdogConfig()

    @field_validator("daily_all_clear", mode="before")
    @classmethod
    def _quoted_time(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(  # noqa: TRY004 - pydantic reports ValueError as a field error
                "a time as HH:MM in quotes (YAML reads an unquoted 22:30 as a number):"
                " daily_all_clear: '22:30'"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}; expected an IANA name") from None
        return zone

    @model_validator(mode="after")
    def _names_unique(self) -> AlertsConfig:
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"alerts.targets names must be unique, got {names}")
        return self


class Profile(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    environment: Environment
    official: bool = Field(default=False, description="the profile executable routes resolve to")
    strategy_line: str
    capital: Money
    currency: str = Field(
        default="USD", pattern=CURRENCY, description="the account's base currency"
    )
    account: str = Field(min_length=1, description="broker account id; masked in every output")
    instruments: tuple[str, ...] = Field(min_length=1)
    start: dt.date | None = None
    end: dt.date | None = None
    store: StoreConfig
    venue: VenueConfig = VenueConfig()
    data: DataConfig = DataConfig()
    risk: RiskConfig = RiskConfig()
    records_dir: Path = Path("runs/records")
    pool: Path | None = Field(
        default=None,
        description="model/parameter pool file, or a folder of them, one per period (R3.3)",
    )
    snapshot_max_age_seconds: Seconds = Field(
        default=300.0, description="an older broker snapshot counts as missing (R8.1)"
    )
    alerts: AlertsConfig = AlertsConfig()
    lang: Literal["en", "zh"] = Field(
        default="en", description="language of run records: en, or zh (Chinese)"
    )
    fx: FxConfig = FxConfig()
    execution: ExecutionConfig = ExecutionConfig()

    @model_validator(mode="after")
    def _no_cross_wiring(self) -> Profile:
        problem = cross_wiring_problem(self) or _money_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self


def _money_problem(p: Profile) -> str | None:
    """Rates and algos that cannot be right for this profile (R1.4)."""
    if p.fx.rates and p.environment is not Environment.SIM:
        return (
            f"fx.rates are fixed rates for sim profiles; a {p.environment} profile reads dated"
            " rates from a rates file (fx.file, written by 'bastion data fx import')"
        )
    if p.currency in p.fx.rates:
        return f"fx.rates: {p.currency} is the base currency (its rate is 1); remove it"
    for name, where in (
        ("execution.instruments", p.execution.instruments),
        ("risk.instrument_tolerance_ticks", p.risk.instrument_tolerance_ticks),
        ("risk.instrument_spread_ticks", p.risk.instrument_spread_ticks),
        ("risk.instrument_traded_lots_per_day", p.risk.instrument_traded_lots_per_day),
    ):
        unknown = sorted(set(where) - set(p.instruments))
        if unknown:
            return f"{name}: {', '.join(unknown)} not in instruments {list(p.instruments)}"
    return None


def cross_wiring_problem(p: Profile) -> str | None:  # noqa: PLR0911 - one rule per return
    """Why the profile mixes environments (R1.2), or ``None``."""
    env = p.environment
    venue = p.venue
    if env is Environment.SIM and venue.kind != "sim":
        return f"a sim profile must use the sim venue, not {venue.kind!r}"
    if env is not Environment.SIM and venue.kind == "sim":
        return f"a {env} profile cannot use the in-process sim venue; use 'fix', 'ib' or 'ctp'"
    if venue.kind == "fix" and not venue.contracts:
        return (
            "venue.contracts: a FIX venue trades only the contracts its profile lists;"
            " add them, e.g. contracts: [SP500/202406]"
        )
    for cid in venue.contracts:
        if cid.split("/", 1)[0] not in p.instruments:
            return (
                f"venue.contracts {cid}: its instrument is not in instruments {list(p.instruments)}"
            )
    if venue.kind == "ib" and (problem := _ib_problem(p)) is not None:
        return problem
    if venue.kind == "ctp" and (problem := _ctp_problem(p)) is not None:
        return problem
    for field_name in ("user_env", "password_env", "auth_code_env"):
        var = getattr(venue, field_name)
        other = [
            e for e in Environment if e is not env and e.value.upper() in (var or "").split("_")
        ]
        if other:
            return (
                f"venue.{field_name} {var} names the {other[0]} environment;"
                f" a {env} profile needs its own credentials"
            )
    if env.value not in {part.lower() for part in re.split(r"[/\\._\-]", str(p.store.path))}:
        return (
            f"store.path {p.store.path} does not name the environment {env.value!r};"
            " stores are kept apart per environment (e.g. runs/{env}/journal.db)"
        )
    if venue.kind == "ib" and not venue.contracts:
        return (
            "venue.contracts: an IB venue trades only the contracts its profile lists;"
            " add them, e.g. contracts: [SP500/202406]"
        )
    return None


def _ib_problem(p: Profile) -> str | None:
    env, port = p.environment, p.venue.port
    if env is Environment.PAPER and port in IB_LIVE_PORTS:
        return f"venue.port {port} is an IB live port; a paper profile needs 7497 or 4002"
    if env is Environment.LIVE and port in IB_PAPER_PORTS:
        return f"venue.port {port} is an IB paper port; a live profile needs 7496 or 4001"
    if p.venue.client_id == 0:
        return (
            "venue.client_id 0 is TWS's own client (it binds manual orders); give Bastion a"
            " base id of 1 or more (each role adds its offset: docs/ib.md)"
        )
    paper_account = p.account.upper().startswith(("DU", "DF"))
    if env is Environment.PAPER and not paper_account:
        return f"account {mask_account(p.account)} is not an IB paper account (DU...)"
    if env is Environment.LIVE and paper_account:
        return f"account {mask_account(p.account)} is an IB paper account under a live profile"
    return None


def _ctp_problem(p: Profile) -> str | None:  # noqa: PLR0911 - one rule per return
    """Why a CTP profile mixes SimNow, broker-test and live fronts or credentials."""
    env, venue = p.environment, p.venue
    if env is Environment.LIVE and venue.broker_id == CTP_SIMNOW_BROKER:
        return "broker_id 9999 is SimNow (a test front); a live profile cannot use it"
    if not venue.front or not venue.broker_id or not venue.ctp_environment:
        return (
            "a CTP venue needs venue.front (tcp://host:port), venue.broker_id and"
            " venue.ctp_environment (simnow, broker_test or live)"
        )
    ctp_env = venue.ctp_environment
    if (env is Environment.LIVE) != (ctp_env == "live"):
        return f"venue.ctp_environment {ctp_env} does not fit a {env} profile"
    if (ctp_env == "simnow") != (venue.broker_id == CTP_SIMNOW_BROKER):
        return (
            f"venue.broker_id {venue.broker_id} with ctp_environment {ctp_env}: SimNow's broker"
            " id is 9999 and only SimNow's"
        )
    fronts = [f for f in (venue.front, venue.md_front) if f]
    if env is Environment.LIVE and any(f.startswith("fake://") for f in fronts):
        return "a fake:// front is the test kit's counter; a live profile cannot use it"
    own = CTP_ENV_TOKENS[ctp_env]
    for field_name in ("user_env", "password_env", "auth_code_env"):
        var = getattr(venue, field_name)
        if var is None:
            return f"venue.{field_name}: a CTP venue needs it (the variable holding the value)"
        parts = var.split("_")
        for other, token in CTP_ENV_TOKENS.items():
            if other != ctp_env and token in parts:
                return (
                    f"venue.{field_name} {var} names the {other} environment; a {ctp_env}"
                    f" profile needs its own credentials (a variable with {own} in its name)"
                )
        if own not in parts:
            return (
                f"venue.{field_name} {var}: {ctp_env} credentials live in variables naming"
                f" it, e.g. BASTION_{own}_CTP_{field_name.removesuffix('_env').upper()}"
            )
    return None


def _find_literal_secret(raw: object, where: str = "") -> str | None:
    """The dotted key of a secret written as a value in the file, if any."""
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            path = f"{where}.{key}" if where else str(key)
            if SECRET_KEY_PATTERN.search(str(key)) and not str(key).endswith("_env"):
                return path
            found = _find_literal_secret(value, path)
            if found:
                return found
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            found = _find_literal_secret(value, f"{where}[{i}]")
            if found:
                return found
    return None


def _describe(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key {loc!r}"
    if kind == "missing":
        return f"{loc}: missing, a value is required"
    value = error.get("input")
    shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    if kind == "value_error":
        return f"{loc}: {message}" if loc != "(top level)" else message
    return f"{loc}: got {shown}, expected {message[0].lower()}{message[1:]}"


def parse_profile(raw: object, source: str) -> Profile:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"profile {source}: expected a mapping of keys, got {type(raw).__name__}")
    secret_key = _find_literal_secret(raw)
    if secret_key is not None:
        raise ConfigError(
            f"profile {source}: {secret_key} holds a secret in the file; secrets come only from"
            f" the environment: set {secret_key.rsplit('.', 1)[-1]}_env to a variable name instead"
        )
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"profile {source}: {details}") from None


def load_profile(path: Path | str) -> Profile:
    """Read and validate a profile file. Every problem is one ``ConfigError`` line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"profile {file}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"profile {file}: cannot read it ({exc})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"profile {file}:{where}: {problem}, expected valid YAML") from None
    return parse_profile(raw, str(file))


def redacted_view(profile: Profile) -> dict[str, Any]:
    """The effective profile as plain data, with the account masked."""
    data: dict[str, Any] = json.loads(profile.model_dump_json())
    data["account"] = mask_account(profile.account)
    return data


def profile_schema() -> dict[str, Any]:
    return Profile.model_json_schema()
