"""Chinese wording of the case pages: labels, timeline lines and refusals.

Each refusal says what the case's state or the user's role did not allow
and what to do instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from common.errors import Conflict, Forbidden
from common.models import Breach, CaseStatus, Light, Role
from node.cases.joint import DECISIONS
from node.cases.steps import HANDOVERS

STEP_STATUS_LABELS = {
    "pending": "待办",
    "active": "办理中",
    "approved": "已通过",
    "returned": "已退回",
}


EVENT_LABELS = {
    "case.received": "收件",
    "case.materials_checked": "审查中复核材料",
    "case.supplement_notice": "开具一次性告知书，停止计时",
    "case.supplement_received": "补正材料已收到，恢复计时",
    "case.accepted": "受理",
    "case.rejected": "不予受理",
    "case.step_started": "环节开始",
    "case.step_finished": "环节结束",
    "case.deadline_changed": "办结时限变更",
    "case.light_changed": "电子监察亮灯变化",
    "case.completed": "办结",
    "joint.opened": "启动联审联办",
    "joint.inspection_scheduled": "安排联合踏勘",
    "joint.opinion_given": "部门出具联审意见",
    "joint.meeting_held": "召开联合会审",
    "joint.minutes_recorded": "记录会议纪要",
    "accountability.opened": "生成问责记录",
    "accountability.decided": "问责记录已处理",
}


# The Chinese reason shown at a field that failed, by (action, field).
FIELD_REASONS = {
    ("reject", "reason"): "请填写不予受理理由（1 至 2000 字）。",
    ("notice", "reason"): (
        "这是本件的第二次补正告知，必须填写原因，说明第一次告知为何遗漏"
        "（1 至 2000 字）。"
    ),
    ("step", "opinion"): "请填写审批意见（1 至 2000 字）。",
    ("complete", "result"): "请填写办理结果（1 至 2000 字）。",
    ("complete", "handover"): (
        "请选择窗口领取或邮寄送达；只有在其他网点报送的办件才能送回报送网点。"
    ),
    ("inspection", "on"): "请填写今天或以后的踏勘日期（年-月-日）。",
    ("inspection", "note"): "踏勘说明最多 2000 字。",
    ("opinion", "department"): "该部门不参与本件的联审。",
    ("opinion", "decision"): "请选择同意、有条件同意或不同意。",
    ("opinion", "opinion"): "请填写部门意见（1 至 2000 字）。",
    ("meeting", "on"): "请填写会议日期（年-月-日），不能晚于今天。",
    ("meeting", "outcome"): "请填写会议结论（1 至 2000 字）。",
    ("minutes", "minutes"): "请填写会议纪要（1 至 2000 字）。",
    ("minutes", "handover"): (
        "请选择窗口领取或邮寄送达；只有在其他网点报送的办件才能送回报送网点。"
    ),
    ("intake", "materials"): "只能登记该事项标准所列的材料，每项登记一次。",
    ("supplement", "materials"): "只能登记该事项标准所列的材料，每项登记一次。",
}


COUNT_REASON = "请填写 0 至 99 的整数份数。"


def role_reason(roles: tuple[Role, ...] | list[str]) -> str:
    labels = "或".join(Role(role).label for role in roles)
    return f"此操作需要「{labels}」角色，您的账号没有该角色，未做任何更改。"


def timeline_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    kind, payload = entry["kind"], entry["payload"]
    return {
        "at": entry["at"],
        "kind": kind,
        "label": EVENT_LABELS.get(kind, kind),
        "summary": event_summary(kind, payload),
    }


def event_summary(kind: str, payload: Mapping[str, Any]) -> str:
    """Say in a few Chinese words what one event of the case's timeline changed."""
    summarize = EVENT_SUMMARIES.get(kind)
    if summarize is None:
        return ""
    try:
        return summarize(payload)
    except (KeyError, TypeError, ValueError):
        # An event written by an older version may lack a field: show the label only.
        return ""


def _step_finished(p: Mapping[str, Any]) -> str:
    outcome = STEP_STATUS_LABELS.get(p["outcome"], p["outcome"])
    late = "" if p.get("on_time", True) else "，超时"
    return f"第 {p['position'] + 1} 环节{outcome}{late}"


ITEM_LABELS = {"case": "办件", "step": "环节", "opinion": "联审意见"}


def _light_changed(p: Mapping[str, Any]) -> str:
    subject = p.get("subject")
    if p["item"] == "step" and subject not in (None, ""):
        subject = f"第 {int(subject) + 1} 环节"
    item = ITEM_LABELS.get(p["item"], p["item"])
    named = f"（{subject}）" if subject else ""
    return f"{item}{named}：{Light(p['light']).label}"


EVENT_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "case.supplement_notice": lambda p: (
        f"第 {p['number']} 次告知，缺 {len(p['missing'])} 项材料"
    ),
    "case.supplement_received": lambda p: (
        f"停止计时 {p['paused_working_days']} 个工作日"
    ),
    "case.accepted": lambda p: (
        f"办结时限 {p['deadline']}" + ("（视为受理）" if p.get("deemed") else "")
    ),
    "case.rejected": lambda p: f"理由：{p['reason']}",
    "case.step_started": lambda p: f"第 {p['position'] + 1} 环节「{p['name']}」",
    "case.step_finished": _step_finished,
    "case.deadline_changed": lambda p: f"办结时限 {p['deadline']}",
    "case.light_changed": _light_changed,
    "case.completed": lambda p: (
        f"{HANDOVERS.get(p.get('handover') or '', '')}，"
        f"用时 {p['working_days_used']} 个工作日"
    ),
    "joint.opened": lambda p: f"牵头部门 {p['lead']}，意见截止 {p['opinions_due']}",
    "joint.inspection_scheduled": lambda p: f"踏勘日期 {p['on']}",
    "joint.opinion_given": lambda p: (
        f"{p['department']}：{DECISIONS.get(p['decision'], p['decision'])}"
    ),
    "joint.meeting_held": lambda p: f"{p['on']}：{p['outcome']}",
    "accountability.opened": lambda p: Breach(p["breach"]).label,
}


def conflict_reason(case_id: str, action: str, error: Conflict) -> str | None:
    """Explain in Chinese why the case's state rejected ``action``, and what to do.

    Returns None for a conflict that names only the case; its reason follows
    from the case's state now.
    """
    details = error.details
    if "pending" in details:
        return f"尚待{'、'.join(details['pending'])}出具联审意见；意见齐全后再记录。"
    if "missing" in details:
        names = "、".join(m["name"] for m in details["missing"])
        return f"缺少必需材料（{names}），不能受理：请开具一次性告知书，或不予受理。"
    if "department" in details:
        return f"{details['department']}已出具过意见，每个部门只出具一次。"
    if "position" in details:
        return step_conflict_reason(action, details)
    if "status" in details:
        status = CaseStatus(details["status"]).label
        return f"办件当前状态为「{status}」，不能执行此操作；请查看本页的最新状态。"
    return None


def step_conflict_reason(action: str, details: Mapping[str, Any]) -> str:
    number = details["position"] + 1
    if "status" in details:
        status = STEP_STATUS_LABELS.get(details["status"], details["status"])
        return f"第 {number} 环节当前为「{status}」，不是办理中的环节；请查看本页的最新状态。"
    if action == "step":
        return f"第 {number} 环节是首个环节，不能退回；如需退件，请由窗口不予受理。"
    return f"办件尚在第 {number} 环节，全部环节审批通过后才能办结。"


def forbidden_reason(error: Forbidden) -> str:
    details = error.details
    if "department" in details:
        return f"此操作只能由{details['department']}办理，您的账号不属于该部门，未做任何更改。"
    return role_reason(details.get("needed", []))
