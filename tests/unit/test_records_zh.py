"""Run records in Chinese carry the same fields as the English ones, translate what
Bastion names, and never show a secret or a raw account id (issue 18 item 6, R8.7)."""

from __future__ import annotations

import json
from pathlib import Path

from bastion.ops.records import RunRecord, record_language, set_record_language, write_record
from bastion.secrets import Redactor


def _record() -> RunRecord:
    return RunRecord(
        kind="gate",
        profile="simnow",
        role="official",
        environment="paper",
        command="bastion gate dry-run",
        target_date="2024-04-30",
        pool_period="2024-04",
        pool_source="examples/pools",
        risk_level="base",
        signals=[
            {
                "instrument": "rb",
                "contract": "rb/202410",
                "previous": 0,
                "target": 4,
                "action": "open",
                "forecast": 0.5,
                "reference": "3850",
            },
        ],
        broker_state={
            "venue": "ctp-simnow",
            "connected": True,
            "settlement": "confirmed",
            "position_state": "confirmed_flat",
        },
        gate_result="blocked: broker state stale",
        api_counts={"send_order_calls": 0, "cancel_order_calls": 0},
        next_step="run bastion probe again",
        notes=["account SIM-123456789 checked with secret s3cr3t-value"],
    )


def test_record_zh_has_every_english_field_with_a_chinese_label() -> None:
    record = _record()
    english = record.markdown("en")
    chinese = record.markdown("zh")
    assert english.count("\n- ") == chinese.count("\n- ")
    assert english.count("\n## ") == chinese.count("\n## ")
    for words in (
        "运行记录：执行闸门",
        "目标日期：2024-04-30",
        "模型池周期：2024-04",
        "风险等级：基础",
        "闸门结果：**阻止：broker state stale**",
        "报单 0 次，撤单 0 次",
        "## 信号",
        "开仓",
        "## 券商状态",
        "结算确认：已确认",
        "持仓快照状态：确认空仓",
        "## 下一步",
    ):
        assert words in chinese, words


def test_record_zh_written_redacted_without_secret_or_account(tmp_path: Path) -> None:
    redactor = Redactor(secrets=["s3cr3t-value"], accounts=["SIM-123456789"])
    json_path, md_path = write_record(
        _record(), tmp_path, redactor, account="SIM-123456789", lang="zh"
    )
    text = md_path.read_text(encoding="utf-8") + json_path.read_text(encoding="utf-8")
    assert "s3cr3t-value" not in text
    assert "SIM-123456789" not in text
    assert "运行记录" in md_path.read_text(encoding="utf-8")
    assert json.loads(json_path.read_text(encoding="utf-8"))["lang"] == "zh"


def test_record_language_command_line_overrides_the_profile() -> None:
    try:
        assert record_language("zh") == "zh"
        set_record_language("en")
        assert record_language("zh") == "en"
        set_record_language("zh")
        assert record_language("en") == "zh"
    finally:
        set_record_language(None)
