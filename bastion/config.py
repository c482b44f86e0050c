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
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
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
    "BreachAction",
    "CtpTerminal",
    "DataConfig",
    "Environment",
    "Profile",
    "RiskConfig",
    "StoreConfig",
    "VenueConfig",
    "load_profile",
    "profile_schema",
    "redacted_view",
]

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
    client_id: int | None = Field(default=None, ge=0, description="IB client id, one per process")
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
    seed: int = Field(default=7, description="seed of the simulated venue")
    sender_comp_id: str = Field(
        default="BASTION", pattern=r"^[A-Za-z0-9_.\-]+$", description="FIX SenderCompID"
    )
    target_comp_id: str = Field(
        default="PAPER", pattern=r"^[A-Za-z0-9_.\-]+$", description="FIX TargetCompID"
    )
    heartbeat_seconds: int = Field(default=5, ge=1, le=300, description="FIX HeartBtInt")
    contracts: tuple[str, ...] = Field(
        default=(),
        description="contracts traded at this venue (INSTRUMENT/YYYYMM); a FIX venue needs them",
    )

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        from bastion.venues.registry import registered_kinds

        if kind not in registered_kinds():
            raise ValueError(
                f"venue kind {kind!r} has no registered builder; registered kinds:"
                f" {', '.join(registered_kinds())}"
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


BreachAction = Literal["reduce", "halt", "kill"]
"""What a breached limit does: REDUCE_ONLY, HALTED, or HALTED and the kill switch."""


class RiskConfig(_Strict):
    """Risk limits (R6). Changeable at run time with ``bastion risk limits --set``."""

    max_order_lots: int = Field(default=10, ge=1)
    max_position_lots: int = Field(default=20, ge=0, description="per instrument, net")
    max_strategy_position_lots: int | None = Field(
        default=None, ge=0, description="per strategy and instrument, net; unset: no extra limit"
    )
    instrument_position_lots: dict[str, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="per-instrument overrides of max_position_lots"
    )
    max_notional: Decimal = Field(default=Decimal(5000000), gt=0, description="per order")
    price_tolerance_ticks: int = Field(default=50, ge=1)
    price_tolerance_percent: Decimal | None = Field(
        default=None, gt=0, le=100, description="a price may also lie this % from last/mid"
    )
    orders_per_second: float | None = Field(
        default=None, gt=0, description="order-rate bucket; unset: the venue's declared limit"
    )
    order_burst: int | None = Field(default=None, ge=1)
    daily_loss_limit: Decimal | None = Field(default=None, gt=0)
    weekly_loss_limit: Decimal | None = Field(default=None, gt=0)
    max_drawdown: Decimal | None = Field(default=None, gt=0)
    daily_loss_action: BreachAction = "halt"
    weekly_loss_action: BreachAction = "halt"
    max_drawdown_action: BreachAction = "halt"
    margin_high_mark: Decimal = Field(default=Decimal("0.9"), gt=0, le=1)
    margin_low_mark: Decimal = Field(default=Decimal("0.7"), gt=0, le=1)
    stale_data_seconds: float = Field(default=30.0, gt=0, description="no tick this long: pause")
    max_spread_ticks: int | None = Field(default=None, ge=1, description="wider: pause")
    kill_ticks_through: int = Field(
        default=5, ge=0, description="kill-switch flatten: ticks through the touch"
    )
    kill_timeout_seconds: float = Field(default=5.0, gt=0, description="per kill-switch wait")
    kill_attempts: int = Field(default=3, ge=1, description="cancel and flatten rounds")

    @model_validator(mode="after")
    def _marks_ordered(self) -> RiskConfig:
        if self.margin_low_mark >= self.margin_high_mark:
            raise ValueError(
                f"margin_low_mark {self.margin_low_mark} must be below"
                f" margin_high_mark {self.margin_high_mark}"
            )
        return self


class Profile(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    environment: Environment
    official: bool = Field(default=False, description="the profile executable routes resolve to")
    strategy_line: str
    capital: Decimal = Field(gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
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
    snapshot_max_age_seconds: float = Field(
        default=300.0, gt=0, description="an older broker snapshot counts as missing (R8.1)"
    )
    lang: Literal["en", "zh"] = Field(
        default="en", description="language of run records: en, or zh (Chinese)"
    )

    @model_validator(mode="after")
    def _no_cross_wiring(self) -> Profile:
        problem = cross_wiring_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self


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
    return None


def _ib_problem(p: Profile) -> str | None:
    env, port = p.environment, p.venue.port
    if env is Environment.PAPER and port in IB_LIVE_PORTS:
        return f"venue.port {port} is an IB live port; a paper profile needs 7497 or 4002"
    if env is Environment.LIVE and port in IB_PAPER_PORTS:
        return f"venue.port {port} is an IB paper port; a live profile needs 7496 or 4001"
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
    message = str(error["msg"]).removeprefix("Value error, ")
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
