"""Run records in Chinese (R8.7, issue 18 item 6): the same fields as the English ones.

``markdown_zh`` renders a ``RunRecord`` with Chinese labels, and translates the values
Bastion itself names (gate results, position states, risk levels, signal actions, yes/no,
the run's kind and environment). Text a run wrote in words (a blocking reason, the next
step) is kept as written, after the Chinese label. The record passes through the same
redactor as the English one (``write_record``), so no secret and no raw account id can
appear in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.ops.records import RunRecord

__all__ = ["KINDS", "LABELS", "markdown_zh", "value_zh"]

KINDS = {
    "probe": "只读探测",
    "shadow": "影子运行（每日信号）",
    "gate": "执行闸门（演练）",
    "smoke-order": "冒烟测试单",
    "session": "交易会话",
    "watch": "监控",
    "flatten": "平仓",
    "kill": "紧急停止",
    "reconcile": "对账",
    "report": "报告",
}

LABELS = {
    "started": "开始时间",
    "profile": "配置",
    "command": "命令",
    "target_date": "目标日期",
    "pool_period": "模型池周期",
    "pool_source": "来源",
    "risk_level": "风险等级",
    "gate_result": "闸门结果",
    "api_counts": "下单接口调用",
    "stale": "输入过期",
    "signals": "信号",
    "broker_state": "券商状态",
    "notes": "备注",
    "output_files": "输出文件",
    "next_step": "下一步",
    "none": "无",
    "not_looked_at": "未查看",
    "comparison": "（对比运行）",
}

_ROLES = {"official": "正式", "comparison": "对比"}
_ENVIRONMENTS = {"sim": "模拟", "paper": "仿真（测试环境）", "live": "实盘"}
_KEYS = {
    "venue": "柜台",
    "connected": "已连接",
    "logged_in": "已登录",
    "settlement": "结算确认",
    "position_state": "持仓快照状态",
    "positions": "持仓",
    "snapshot_age_seconds": "快照时长（秒）",
    "equity": "权益",
    "margin_used": "占用保证金",
    "open_orders": "挂单",
    "login_steps": "登录步骤",
    "instrument": "品种",
    "contract": "合约",
    "previous": "原持仓",
    "target": "目标持仓",
    "action": "操作",
    "forecast": "预测",
    "reference": "参考价",
    "market_login": "行情登录",
    "trading_authentication": "交易认证",
    "trading_login": "交易登录",
    "settlement_confirmation": "结算单确认",
    "contracts": "合约核对",
}
_VALUES = {
    "executable": "可执行",
    "skip_broker_flat_for_close": "跳过：券商无持仓可平",
    "confirmed": "已确认",
    "unconfirmed": "未确认",
    "not_applicable": "不适用",
    "confirmed_flat": "确认空仓",
    "positions_received": "已收到持仓",
    "missing": "缺失",
    "unknown": "未知",
    "base": "基础（正常交易）",
    "review": "复核（只平仓、减仓或对账）",
    "open": "开仓",
    "increase": "加仓",
    "reduce": "减仓",
    "close": "平仓",
    "reverse": "反手",
    "hold": "持有",
    "ok": "成功",
    "failed": "失败",
}


def value_zh(value: object) -> str:
    """A value as the Chinese record shows it."""
    if value is True:
        return "是"
    if value is False:
        return "否"
    if value is None:
        return "-"
    if isinstance(value, dict):
        return "，".join(f"{_KEYS.get(str(k), k)} {value_zh(v)}" for k, v in value.items())
    text = str(value)
    if text.startswith("blocked: "):
        return f"阻止：{text.removeprefix('blocked: ')}"
    return _VALUES.get(text, text)


def _signals(signals: list[dict[str, Any]]) -> list[str]:
    if not signals:
        return [LABELS["none"]]
    keys = list(signals[0])
    lines = ["| " + " | ".join(_KEYS.get(k, k) for k in keys) + " |", "|" + "---|" * len(keys)]
    lines.extend("| " + " | ".join(value_zh(s.get(k, "")) for k in keys) + " |" for s in signals)
    return lines


def markdown_zh(record: RunRecord) -> str:
    counts = record.api_counts
    pool = f"- {LABELS['pool_period']}：{record.pool_period or '-'}"
    if record.pool_source:
        pool += f"（{LABELS['pool_source']}：{record.pool_source}）"
    lines = [
        f"# Bastion 运行记录：{KINDS.get(record.kind, record.kind)}"
        + (LABELS["comparison"] if record.role == "comparison" else ""),
        "",
        f"- {LABELS['started']}：{record.started_at}",
        (
            f"- {LABELS['profile']}：{record.profile}（{_ROLES.get(record.role, record.role)}，"
            f"{_ENVIRONMENTS.get(record.environment, record.environment)}）"
        ),
        f"- {LABELS['command']}：`{record.command}`",
        f"- {LABELS['target_date']}：{record.target_date or '-'}",
        pool,
        f"- {LABELS['risk_level']}：{value_zh(record.risk_level)}",
        f"- {LABELS['gate_result']}：**{value_zh(record.gate_result)}**",
        (
            f"- {LABELS['api_counts']}：报单 {counts.get('send_order_calls', 0)} 次，"
            f"撤单 {counts.get('cancel_order_calls', 0)} 次"
        ),
    ]
    if record.stale_inputs:
        lines.append(f"- {LABELS['stale']}：{'；'.join(record.stale_inputs)}")
    lines += ["", f"## {LABELS['signals']}", "", *_signals(record.signals)]
    lines += ["", f"## {LABELS['broker_state']}", ""]
    if record.broker_state:
        lines.extend(f"- {_KEYS.get(k, k)}：{value_zh(v)}" for k, v in record.broker_state.items())
    else:
        lines.append(LABELS["not_looked_at"])
    if record.notes:
        lines += ["", f"## {LABELS['notes']}", ""]
        lines.extend(f"- {n}" for n in record.notes)
    lines += ["", f"## {LABELS['output_files']}", ""]
    lines.extend([f"- {f}" for f in record.output_files] or [LABELS["none"]])
    lines += ["", f"## {LABELS['next_step']}", "", record.next_step or "-", ""]
    return "\n".join(lines)
