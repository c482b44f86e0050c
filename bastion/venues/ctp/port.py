"""The narrow ports between the adapter and a CTP counter: the real binding, or the test
kit's fake counter (``bastion.testing.fake_ctp``), through the same calls.

The adapter speaks only these methods. Requests take the binding's own field structs and
return CTP's request code (0 sent, -1 network, -2/-3 flow control); answers come later
as callbacks on the Spi registered by ``start``. ``RealTraderPort`` / ``RealMdPort`` are
the binding's API objects behind these names and nothing more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from bastion.venues.ctp.codes import ResumeType
from bastion.venues.ctp.runtime import Binding

__all__ = ["CtpMdPort", "CtpTraderPort", "FrontLimits", "RealMdPort", "RealTraderPort"]


class FrontLimits(Protocol):
    """What ``GetFrontInfo`` says after login: the front's flow limits."""

    QryFreq: int
    FTDPkgFreq: int


class CtpTraderPort(Protocol):
    """The trader API calls the adapter makes."""

    def start(self, spi: Any, fronts: list[str], private_resume: int) -> None:
        """Register the Spi and the fronts, subscribe the private flow with
        ``private_resume`` (``RESTART``) and the public flow, then ``Init``."""
        ...

    def authenticate(self, field: Any, request_id: int) -> int: ...

    def login(self, field: Any, request_id: int) -> int: ...

    def query_settlement_confirm(self, field: Any, request_id: int) -> int: ...

    def confirm_settlement(self, field: Any, request_id: int) -> int: ...

    def insert_order(self, field: Any, request_id: int) -> int: ...

    def order_action(self, field: Any, request_id: int) -> int: ...

    def query_account(self, field: Any, request_id: int) -> int: ...

    def query_positions(self, field: Any, request_id: int) -> int: ...

    def query_orders(self, field: Any, request_id: int) -> int: ...

    def query_trades(self, field: Any, request_id: int) -> int: ...

    def query_instrument(self, field: Any, request_id: int) -> int: ...

    def front_limits(self) -> tuple[int, int]:
        """(queries per second, order packets per second) the front allows; 0: unknown."""
        ...

    def stop(self) -> None:
        """Release the API (its thread ends; no callback comes after)."""
        ...


class CtpMdPort(Protocol):
    """The market-data API calls the adapter makes."""

    def start(self, spi: Any, fronts: list[str]) -> None: ...

    def login(self, field: Any, request_id: int) -> int: ...

    def subscribe(self, instruments: list[str]) -> int: ...

    def stop(self) -> None: ...


class RealTraderPort:
    """``CThostFtdcTraderApi`` from the binding; its flow files go to ``flow_dir``."""

    def __init__(self, binding: Binding, flow_dir: Path) -> None:
        flow_dir.mkdir(parents=True, exist_ok=True)
        self._binding = binding
        self._api = binding.trader.CThostFtdcTraderApi.CreateFtdcTraderApi(f"{flow_dir}/")
        self._spi: Any = None

    def start(self, spi: Any, fronts: list[str], private_resume: int) -> None:
        self._spi = spi  # the API keeps a raw pointer: the Spi must outlive it
        self._api.RegisterSpi(spi)
        for front in fronts:
            self._api.RegisterFront(front)
        self._api.SubscribePrivateTopic(private_resume)
        self._api.SubscribePublicTopic(ResumeType.QUICK)
        self._api.Init()

    def authenticate(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqAuthenticate(field, request_id))

    def login(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqUserLogin(field, request_id))

    def query_settlement_confirm(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqQrySettlementInfoConfirm(field, request_id))

    def confirm_settlement(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqSettlementInfoConfirm(field, request_id))

    def insert_order(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqOrderInsert(field, request_id))

    def order_action(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqOrderAction(field, request_id))

    def query_account(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqQryTradingAccount(field, request_id))

    def query_positions(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqQryInvestorPosition(field, request_id))

    def query_orders(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqQryOrder(field, request_id))

    def query_trades(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqQryTrade(field, request_id))

    def query_instrument(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqQryInstrument(field, request_id))

    def front_limits(self) -> tuple[int, int]:
        info = self._binding.trader.CThostFtdcFrontInfoField()
        self._api.GetFrontInfo(info)
        return int(info.QryFreq), int(info.FTDPkgFreq)

    def stop(self) -> None:
        self._api.RegisterSpi(None)
        self._api.Release()


class RealMdPort:
    """``CThostFtdcMdApi`` from the binding."""

    def __init__(self, binding: Binding, flow_dir: Path) -> None:
        flow_dir.mkdir(parents=True, exist_ok=True)
        self._api = binding.md.CThostFtdcMdApi.CreateFtdcMdApi(f"{flow_dir}/")
        self._spi: Any = None

    def start(self, spi: Any, fronts: list[str]) -> None:
        self._spi = spi
        self._api.RegisterSpi(spi)
        for front in fronts:
            self._api.RegisterFront(front)
        self._api.Init()

    def login(self, field: Any, request_id: int) -> int:
        return int(self._api.ReqUserLogin(field, request_id))

    def subscribe(self, instruments: list[str]) -> int:
        encoded = [name.encode() for name in instruments]
        return int(self._api.SubscribeMarketData(encoded, len(encoded)))

    def stop(self) -> None:
        self._api.RegisterSpi(None)
        self._api.Release()
