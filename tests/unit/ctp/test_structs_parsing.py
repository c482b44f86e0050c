"""Field decoding from real ``openctp_ctp`` structs, as a front fills them: char codes,
GBK messages, DBL_MAX, padded OrderSysID; and the adapter's real Spi puts one record per
callback in its inbox, never raising on CTP's thread.

Invariant: what CTP sends is copied once, exactly (ids byte for byte), with its empty
markers as unknown, never as prices.
"""

from __future__ import annotations

import sys

import pytest

from bastion.testing.fake_ctp.structs import LayoutError, layout, make, set_raw
from bastion.venues.ctp import codes, parsing
from bastion.venues.ctp.runtime import load_binding
from bastion.venues.ctp.spi import CallbackFailed, Inbox, md_spi_class, trader_spi_class
from tests.ctp_binding import require_ctp_binding

require_ctp_binding()  # before any test imports the binding (it may abort)

B = load_binding()
DBL_MAX = sys.float_info.max


def test_codes_every_code_matches_the_bindings_constant() -> None:
    for name, value in codes.BINDING_NAMES.items():
        assert getattr(B.trader, name) == value, name
    for name, resume in codes.RESUME_NAMES.items():
        assert getattr(B.trader, name) == resume, name


def test_structs_layout_matches_the_binding_for_the_structs_the_fake_builds() -> None:
    for name in ("CThostFtdcOrderField", "CThostFtdcTradeField", "CThostFtdcRspInfoField"):
        assert layout(getattr(B.trader, name))  # checked field by field, or LayoutError
    with pytest.raises(LayoutError):
        set_raw(B.trader.CThostFtdcOrderField(), "LimitPrice", b"x")


def _order(**fields: object) -> object:
    base: dict[str, object] = {
        "FrontID": 7,
        "SessionID": -123456,
        "OrderRef": "         12",
        "ExchangeID": "SHFE",
        "OrderSysID": "      280443",
        "InstrumentID": "rb2410",
        "Direction": "1",
        "CombOffsetFlag": "3",
        "LimitPrice": 3850.0,
        "VolumeTotalOriginal": 3,
        "VolumeTraded": 1,
        "VolumeTotal": 2,
        "OrderStatus": "1",
        "OrderSubmitStatus": "3",
        "StatusMsg": "部分成交报单已提交",
        "TimeCondition": "3",
        "VolumeCondition": "1",
        "InsertDate": "20240429",
        "InsertTime": "21:05:00",
        "TradingDay": "20240430",
    }
    base.update(fields)
    return make(B.trader.CThostFtdcOrderField, base)


def test_parsing_order_keeps_ids_byte_for_byte_and_decodes_gbk() -> None:
    report = parsing.order_report(_order())
    assert report.order_sys_id == "      280443"
    assert report.order_ref == "12"
    assert report.session_id == -123456
    assert (report.direction, report.offset, report.status) == ("1", "3", "1")
    assert report.status_msg == "部分成交报单已提交"
    assert report.limit_price == 3850.0


def test_parsing_dbl_max_is_no_price() -> None:
    assert parsing.order_report(_order(LimitPrice=DBL_MAX)).limit_price is None
    depth = make(
        B.md.CThostFtdcDepthMarketDataField,
        {
            "InstrumentID": "rb2410",
            "BidPrice1": 3850.0,
            "AskPrice1": DBL_MAX,
            "BidVolume1": 5,
            "LastPrice": 0.0,
            "UpperLimitPrice": 4100.0,
            "LowerLimitPrice": 3600.0,
            "PreSettlementPrice": DBL_MAX,
        },
    )
    quote = parsing.depth_quote(depth)
    assert (quote.bid, quote.ask, quote.last, quote.pre_settlement) == (3850.0, None, None, None)
    assert (quote.upper_limit, quote.lower_limit) == (4100.0, 3600.0)


def test_parsing_gbk_cut_in_the_middle_of_a_character_does_not_raise() -> None:
    field = B.trader.CThostFtdcRspInfoField()
    set_raw(field, "ErrorMsg", "资金不足".encode("gbk")[:-1])
    info = parsing.rsp_info(field)
    assert info.message.startswith("资金不")


def test_parsing_unmapped_status_code_is_kept_as_it_came() -> None:
    assert parsing.order_report(_order(OrderStatus="z")).status == "z"


def test_spi_callbacks_put_one_record_each_in_the_inbox() -> None:
    inbox = Inbox()
    spi = trader_spi_class(B)(inbox)
    spi.OnFrontConnected()
    spi.OnRtnOrder(_order())
    info = make(B.trader.CThostFtdcRspInfoField, {"ErrorID": 31, "ErrorMsg": "CTP:资金不足"})
    echo = make(B.trader.CThostFtdcInputOrderField, {"OrderRef": "5", "InstrumentID": "rb2410"})
    spi.OnRspOrderInsert(echo, info, 9, True)  # noqa: FBT003 - CTP's own signature
    spi.OnRspQryInvestorPosition(None, None, 4, True)  # noqa: FBT003 - CTP's own signature
    spi.OnFrontDisconnected(0x2003)
    records = inbox.take_all()
    assert [type(r).__name__ for r in records] == [
        "FrontConnected",
        "OrderReport",
        "OrderInsertError",
        "QueryReply",
        "FrontDisconnected",
    ]
    rejected = records[2]
    assert isinstance(rejected, parsing.OrderInsertError)
    assert (rejected.error.error_id, rejected.error.message, rejected.order_ref) == (
        31,
        "CTP:资金不足",
        "5",
    )
    empty = records[3]
    assert isinstance(empty, parsing.QueryReply)
    assert empty.row is None
    assert empty.is_last


def test_spi_a_callback_that_cannot_be_read_is_reported_not_raised() -> None:
    inbox = Inbox()
    spi = trader_spi_class(B)(inbox)
    spi.OnRtnTrade(object())  # not a trade struct
    [record] = inbox.take_all()
    assert isinstance(record, CallbackFailed)
    assert record.callback == "OnRtnTrade"


def test_spi_market_data_spi_copies_depth() -> None:
    inbox = Inbox()
    spi = md_spi_class(B)(inbox)
    spi.OnRtnDepthMarketData(make(B.md.CThostFtdcDepthMarketDataField, {"InstrumentID": "m2409"}))
    [record] = inbox.take_all()
    assert isinstance(record, parsing.DepthQuote)
    assert record.bid is None
