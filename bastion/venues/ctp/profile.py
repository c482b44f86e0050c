"""The CTP adapter built from a profile: the registry's builder for ``kind: ctp``.

- The binding is loaded only here, after the locale check in a child process
  (``runtime``): a machine without ``zh_CN.GB18030`` gets one line and exit status 1,
  never an abort.
- Secrets and identity come from the environment variables the profile names
  (``user_env``, ``password_env``, ``auth_code_env``); each CTP environment (SimNow,
  broker test, live) has its own (``config.Profile`` refuses them mixed).
- Each role (engine, probe, gate, smoke, ...) logs in as its own CTP session with its own
  flow files (``<store folder>/ctp-flow/<role>/``); all roles share the day's order map
  (``<store folder>/ctp-orders.jsonl``), so any session recognises Bastion's own orders.
- A ``fake://NAME`` front is a counter registered in this process under ``NAME``
  (``bastion.venues.ctp.fronts``; the test kit's fake counter registers itself there);
  profiles refuse it for live.
"""

from __future__ import annotations

from collections.abc import Callable

from bastion.clock import Clock
from bastion.config import Profile
from bastion.domain.contracts import ContractSpec, parse_contract_id
from bastion.domain.ids import ContractId
from bastion.errors import ConfigError, DataError
from bastion.marketdata.specs import MarketSpec, SpecRegistry
from bastion.secrets import resolve_secret
from bastion.venues.ctp.config import CtpConfig
from bastion.venues.ctp.execution import CtpVenue
from bastion.venues.ctp.fronts import fake_front
from bastion.venues.ctp.instruments import CtpContracts
from bastion.venues.ctp.port import CtpMdPort, CtpTraderPort, RealMdPort, RealTraderPort
from bastion.venues.ctp.runtime import Binding, load_binding

__all__ = ["BUILDER", "CtpBuilder", "ctp_config_for", "profile_market_specs"]

FAKE = "fake://"


def profile_market_specs(profile: Profile) -> dict[ContractId, MarketSpec]:
    """The contracts in ``venue.contracts`` with their bundled specs."""
    registry = SpecRegistry.bundled()
    out: dict[ContractId, MarketSpec] = {}
    for raw in profile.venue.contracts:
        cid = ContractId(raw)
        instrument, _ = parse_contract_id(cid)
        try:
            out[cid] = registry[instrument]
        except DataError:
            raise ConfigError(
                f"profile {profile.name}: venue.contracts {raw}: no contract spec for"
                f" {instrument}; add it to the spec registry"
            ) from None
    return out


def ctp_config_for(profile: Profile, role: str, *, timeout: float) -> CtpConfig:
    venue = profile.venue
    if not venue.front or not venue.broker_id or not venue.ctp_environment:  # pragma: no cover
        raise ConfigError(f"profile {profile.name}: a CTP venue needs front and broker_id")
    if venue.user_env is None or venue.password_env is None:  # pragma: no cover - validated
        raise ConfigError(f"profile {profile.name}: a CTP venue needs user_env and password_env")
    folder = profile.store.path.parent
    terminal = venue.terminal
    return CtpConfig(
        front=venue.front,
        md_front=venue.md_front,
        broker_id=venue.broker_id,
        user_id=resolve_secret(venue.user_env).reveal(),
        password=resolve_secret(venue.password_env),
        app_id=venue.app_id or "",
        auth_code=resolve_secret(venue.auth_code_env) if venue.auth_code_env else None,
        product_info=terminal.product_info,
        client_ip=terminal.client_ip,
        client_port=terminal.client_port,
        mac_address=terminal.mac_address,
        login_remark=terminal.login_remark,
        name=f"ctp-{venue.ctp_environment.replace('_', '-')}",
        connect_timeout=timeout,
        query_timeout=timeout,
        compare_clock=(
            venue.compare_clock
            if venue.compare_clock is not None
            else venue.ctp_environment != "simnow"
        ),
        flow_dir=folder / "ctp-flow" / role.lower(),
        order_map_path=folder / "ctp-orders.jsonl",
    )


class CtpBuilder:
    def contracts(self, profile: Profile) -> dict[ContractId, ContractSpec]:
        return {cid: m.contract for cid, m in profile_market_specs(profile).items()}

    def build(self, profile: Profile, role: str, clock: Clock, *, timeout: float) -> CtpVenue:
        binding = load_binding()
        config = ctp_config_for(profile, role, timeout=timeout)
        contracts = CtpContracts(profile_market_specs(profile))
        trader, md = _ports(binding, config)
        return CtpVenue(config, binding, clock, contracts, trader, md_port=md)


def _ports(
    binding: Binding, config: CtpConfig
) -> tuple[Callable[[], CtpTraderPort], Callable[[], CtpMdPort] | None]:
    if config.front.startswith(FAKE):
        counter = fake_front(config.front.removeprefix(FAKE))
        return counter.trader_port, counter.md_port if config.md_front else None
    flow = config.flow_dir
    assert flow is not None  # noqa: S101 - set by ctp_config_for

    def trader() -> CtpTraderPort:
        return RealTraderPort(binding, flow / "trader")

    def md() -> CtpMdPort:
        return RealMdPort(binding, flow / "md")

    return trader, md if config.md_front else None


BUILDER = CtpBuilder()
