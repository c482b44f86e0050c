"""CTP errors map to the reason taxonomy and wrong-runtime symptoms carry a diagnosis
(R5.5, R10.3); exchange time stamps land on the right calendar day, night sessions on
the evening before the trading day (Friday night for Monday)."""

from __future__ import annotations

import datetime as dt

from bastion.domain.reasons import Reason
from bastion.venues.ctp.errors import (
    describe_disconnect,
    describe_return_code,
    diagnose_error,
    diagnose_silent_front,
    reason_for,
)
from bastion.venues.ctp.instruments import exchange_time


def test_errors_ids_and_exchange_texts_map_to_reasons() -> None:
    assert reason_for(31, "CTP:资金不足") is Reason.INSUFFICIENT_MARGIN
    assert reason_for(50, "CTP:平今仓位不足") is Reason.INVALID_ORDER
    assert reason_for(90, "") is Reason.RATE_LIMITED
    assert reason_for(0, "已撤单报单被拒绝SHFE:报单价格超出涨跌停板") is Reason.PRICE_OUTSIDE_BAND
    assert reason_for(0, "已撤单报单被拒绝DCE:非交易时间不能报单") is Reason.MARKET_CLOSED
    assert reason_for(0, "something new") is Reason.UNKNOWN


def test_errors_wrong_runtime_symptoms_name_the_likely_cause() -> None:
    assert "production vs evaluation" in diagnose_error("trading login", 4040, "")
    assert "AppID/AuthCode" in diagnose_error("trading authentication", 63, "CTP:客户端认证失败")
    assert "runtime does not match" in diagnose_silent_front("tcp://x:1", 5)
    assert "does not match the front" in describe_disconnect(0x2003, connected_for=0.5)
    assert "does not match" not in describe_disconnect(0x1001, connected_for=0.5)
    assert "flow control" in describe_return_code(-3)


def test_times_day_and_night_session_stamps() -> None:
    friday = dt.date(2024, 4, 26)
    day = exchange_time("20240429", "10:15:30", friday)
    assert day == dt.datetime(2024, 4, 29, 2, 15, 30, tzinfo=dt.UTC)
    evening = exchange_time("20240429", "21:30:00", friday)
    assert evening == dt.datetime(2024, 4, 26, 13, 30, tzinfo=dt.UTC)
    after_midnight = exchange_time("20240429", "01:00:00", friday)
    assert after_midnight == dt.datetime(2024, 4, 26, 17, 0, tzinfo=dt.UTC)
    assert exchange_time("20240429", "21:30:00", None) is None
    assert exchange_time("not-a-day", "10:00:00", friday) is None
