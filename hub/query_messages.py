"""Chinese messages for a bad query string on the hub's pages.

The API names each field with the schema's English reason. A clerk on the
dashboard gets the field's name and what it accepts, in Chinese.
"""

from __future__ import annotations

from typing import Any

from common.divisions import CITY_CODE

FIELD_LABELS = {
    "by": "分组方式",
    "county": "县（市、区）",
    "handler": "办理节点",
    "month_from": "起始月份",
    "month_to": "截止月份",
}

FIELD_REASONS = {
    "by": "应为 county、tier、department、matter、month 或 handler 之一",
    "county": f"应为本市县（市、区）的 6 位代码，市本级办件用 {CITY_CODE}",
    "handler": "应为本市县（市、区）、乡镇（街道）或市本级的节点代码，"
    "且属于所选的县（市、区）；村（社区）不办理办件",
    "month_from": "应为 YYYY-MM 格式的月份，如 2026-01",
    "month_to": "应为 YYYY-MM 格式的月份，如 2026-12",
}

# The schema's reason for a reversed range, which the format reason does not cover.
MONTHS_REVERSED = "must not be before month_from"


def _reason(name: str, reasons: Any) -> str:
    if name == "month_to" and MONTHS_REVERSED in str(reasons):
        return "不能早于起始月份"
    return FIELD_REASONS.get(name, "不是此页面的查询条件，请从网址中删除")


def page_message(fields: dict[str, Any]) -> str:
    """Return one Chinese sentence naming each bad field of the query and why."""
    parts = [
        f"{FIELD_LABELS.get(name, '查询条件')}（{name}）{_reason(name, reasons)}"
        for name, reasons in sorted(fields.items())
    ]
    return "查询条件有误：" + "；".join(parts) + "。"
