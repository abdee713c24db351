"""Public access pages: calls with their terms, ranking and slate; funded projects; statistics with charts.

Also the helpers the other access pages share (reading forms, naming failed inputs, motion links, charts).
The role pages are ``access_proposal_pages`` (researchers), ``access_review_pages`` (reviewers),
``access_call_desk_pages``, ``access_assignment_pages`` and ``access_decision_pages`` (operators).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.access import allocations, calls, decisions, policy, proposals, statistics
from aicommons.access.models import Call, CallStatus, ProposalStatus, Slate, SlateStatus
from aicommons.deps import DB, MaybePrincipal
from aicommons.errors import DomainError, Forbidden, invalid_field
from aicommons.governance.models import Motion, MotionStatus
from aicommons.identity.models import Role
from aicommons.identity.policy import Principal
from aicommons.web.governance_pages import percent, state_names
from aicommons.web.labels import (
    ALLOCATION_STATUS_LABELS,
    APPEAL_STATUS_LABELS,
    ASSIGNMENT_STATUS_LABELS,
    CALL_STATUS_LABELS,
    CONFLICT_LABELS,
    MOTION_STATUS_LABELS,
    POLICY_LABELS,
    PROPOSAL_STATUS_LABELS,
    SLATE_STATUS_LABELS,
    TRACK_LABELS,
)
from aicommons.web.render import render

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
LABELS = {"call": CALL_STATUS_LABELS, "proposal": PROPOSAL_STATUS_LABELS, "track": TRACK_LABELS,
          "policy": POLICY_LABELS, "assignment": ASSIGNMENT_STATUS_LABELS, "appeal": APPEAL_STATUS_LABELS,
          "slate": SLATE_STATUS_LABELS, "allocation": ALLOCATION_STATUS_LABELS, "conflict": CONFLICT_LABELS,
          "motion": MOTION_STATUS_LABELS}
SECONDS_PER_HOUR = 3600


# --- shared by the access pages ------------------------------------------------------------------


def page_errors(exc: DomainError, name_of: Callable[[list[str]], str] | None = None) -> dict[str, str]:
    """Input name -> message for a failed form; '' holds what belongs to no input.

    The service names a field by its path in the API's body ("tracks.0.pool_hours"); ``name_of`` turns that
    path into the page's input name, by default its first part.
    """
    out: dict[str, str] = {}
    for err in exc.errors:
        parts = [str(part) for part in err.loc[1:]] if err.loc and err.loc[0] == "body" else \
            [str(part) for part in err.loc]
        name = (name_of or (lambda p: p[0] if p else ""))(parts)
        out.setdefault(name, err.message)
    if not out:
        out[""] = exc.detail
    return out


def text_of(form: dict[str, Any], name: str, *, limit: int | None = None, label: str | None = None) -> str:
    """One submitted value as stripped text ('' when absent or sent twice); 422 naming it when too long."""
    value = form.get(name)
    value = value.strip() if isinstance(value, str) else ""
    if limit is not None and len(value) > limit:
        raise invalid_field(("body", name), f"{label or name.replace('_', ' ')} is at most {limit:,} characters")
    return value


def whole(form: dict[str, Any], name: str, low: int, high: int, message: str) -> int:
    """A whole number from ``low`` to ``high``, or a 422 naming the input."""
    raw = text_of(form, name)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15 or not low <= int(raw) <= high:
        raise invalid_field(("body", name), message)
    return int(raw)


def words(raw: str) -> list[str]:
    """Items separated by commas, semicolons or new lines."""
    return [w.strip() for w in re.split(r"[,;\n]+", raw) if w.strip()]


def allowed(check: Callable[[Principal], None], principal: Principal | None) -> bool:
    """Whether a policy check lets this person through (for showing or hiding a form)."""
    if principal is None:
        return False
    try:
        check(principal)
    except Forbidden:
        return False
    return True


def score_text(score: str | Fraction | None) -> str:
    """An exact score as a reader wants it: 4.25 (and the fraction when it is not a short decimal)."""
    if score is None:
        return "—"
    value = Fraction(score)
    shown = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return shown if Fraction(shown) == value else f"{float(value):.2f} ({value})"


def motion_link(db: Session, principal: Principal | None, motion_id: int | None) -> dict | None:
    """Where a reader follows a motion: the public decision page, or the motion editor for operators."""
    if motion_id is None:
        return None
    motion = db.get(Motion, motion_id)
    if motion is None:
        return None
    operator = principal is not None and principal.has_role(Role.OPERATOR)
    if motion.status is MotionStatus.DRAFT and not operator:
        return None
    href = f"/council/motions/{motion.id}" if operator else f"/decisions/{motion.id}"
    return {"id": motion.id, "href": href, "public": f"/decisions/{motion.id}", "title": motion.title,
            "status": MOTION_STATUS_LABELS[motion.status.value], "outcome": motion.outcome,
            "draft": motion.status is MotionStatus.DRAFT, "voting": motion.status is MotionStatus.VOTING}


def visible_slates(db: Session, principal: Principal | None, call_id: int) -> list[Slate]:
    """Slates whose motion is public (noticed or decided); the panel also sees those still in draft."""
    slates = decisions.slates_of(db, call_id)
    if policy.sees_panel(principal):
        return slates
    return [s for s in slates if s.motion_id and (m := db.get(Motion, s.motion_id)) is not None
            and m.status is not MotionStatus.DRAFT]


def slate_view(db: Session, row: Slate, names: dict[str, str]) -> dict:
    """A slate for reading: awards with their proposals' titles, and each state's shares as a chart."""
    result = row.result
    titles = {p.id: p.title for p in proposals.call_proposals(db, row.call_id)}
    states = [{**s, "name": names.get(s["state"], s["state"]),
               "allocated_percent": percent(Fraction(s["allocated_share"])),
               "contribution_percent": percent(Fraction(s["contribution_share"]))} for s in result["states"]]
    chart = bar_chart(f"slate-{row.id}-shares", f"Allocated share and contribution share by state, slate {row.id}",
                      [s["state"] for s in states],
                      [("Allocated share", [Fraction(s["allocated_share"]) for s in states]),
                       ("Contribution share", [Fraction(s["contribution_share"]) for s in states])],
                      fmt=percent) if states else None
    return {"row": row, "awards": [{**a, "title": titles.get(a["proposal_id"], "")} for a in result["awards"]],
            "tracks": result["tracks"], "states": states, "total": result["total"], "chart": chart}


# --- charts: inline SVG, drawn here, no script ---------------------------------------------------

BAR, BAR_GAP, ROW_GAP, AREA, TEXT_ROOM, LEGEND = 14, 2, 12, 300, 96, 24


def _grouped(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def bar_chart(chart_id: str, title: str, labels: Sequence[str],
              series: Sequence[tuple[str, Sequence[int | Fraction]]], *,
              fmt: Callable[[Any], str] = _grouped) -> dict:
    """Geometry of a horizontal bar chart: one row per label, one bar per series; the longest bar is the
    largest value of the chart. Widths are for drawing only; the figures shown are exact."""
    count = len(series)
    label_width = 12 + 8 * max((len(label) for label in labels), default=2)
    largest = max((Fraction(v) for _, values in series for v in values), default=Fraction(0)) or Fraction(1)
    legend = LEGEND if count > 1 else 0
    group = count * BAR + (count - 1) * BAR_GAP
    rows, y = [], legend + 4
    for i, label in enumerate(labels):
        bars = []
        for k, (_, values) in enumerate(series):
            width = round(float(Fraction(values[i]) / largest) * AREA, 1)
            top = y + k * (BAR + BAR_GAP)
            bars.append({"series": k, "y": top, "width": width, "text_x": round(label_width + width + 4, 1),
                         "text_y": top + BAR - 3, "text": fmt(values[i])})
        rows.append({"label": label, "label_y": y + group / 2 + 4, "bars": bars})
        y += group + ROW_GAP
    description = "; ".join(f"{label}: " + ", ".join(f"{name} {fmt(values[i])}" for name, values in series)
                            for i, label in enumerate(labels))
    return {"id": chart_id, "title": title, "desc": description or "no data", "width": label_width + AREA + TEXT_ROOM,
            "height": max(y, legend + 20), "label_x": label_width - 6, "bar_x": label_width, "bar_height": BAR,
            "legend": [{"name": name, "series": k, "x": label_width + k * 170} for k, (name, _) in enumerate(series)]
            if count > 1 else [], "rows": rows}


# --- calls ---------------------------------------------------------------------------------------


@router.get("/calls")
def call_list(request: Request, db: DB, principal: MaybePrincipal):
    everyone = calls.list_calls(db, include_drafts=policy.sees_draft_calls(principal))
    preparing = (CallStatus.DRAFT, CallStatus.AWAITING_APPROVAL)
    return render(request, "access/calls.html", {
        "open": [c for c in everyone if c.status is CallStatus.OPEN],
        "preparing": [c for c in everyone if c.status in preparing],
        "past": [c for c in everyone if c.status not in (*preparing, CallStatus.OPEN)],
        "now": clock.now(), "labels": LABELS, "can_run": allowed(policy.can_run_calls, principal),
        "can_apply": allowed(policy.can_apply, principal)}, principal=principal)


def _call_context(db: Session, principal: Principal | None, call: Call) -> dict:
    names = state_names(db)
    received = [p for p in proposals.call_proposals(db, call.id) if p.status is not ProposalStatus.DRAFT]
    slates = visible_slates(db, principal, call.id)
    shown = next((s for s in slates if s.status is SlateStatus.APPROVED), None) or next(
        (s for s in slates if s.status is SlateStatus.PROPOSED), None)
    return {
        "call": call, "labels": LABELS, "names": names, "received": received, "now": clock.now(),
        "accepting": calls.accepting_proposals(call), "can_apply": allowed(policy.can_apply, principal),
        "is_panel": policy.sees_panel(principal), "total_pool": sum(t.pool_hours for t in call.tracks),
        "is_delegate": principal is not None and bool(principal.delegate_of()),
        "rubric_weight": sum(c["weight"] for c in call.rubric),
        "ranking": decisions.published_ranking(db, call) if call.ranked_at else [],
        "approval_motion": motion_link(db, principal, call.approval_motion_id),
        "slates": [{"row": s, "motion": motion_link(db, principal, s.motion_id)} for s in slates],
        "slate": slate_view(db, shown, names) if shown else None, "score_text": score_text}


@router.get("/calls/{call_id}")
def call_page(request: Request, db: DB, principal: MaybePrincipal, call_id: Id):
    call = calls.visible_call(db, call_id, sees_drafts=policy.sees_draft_calls(principal))
    return render(request, "access/call.html", _call_context(db, principal, call), principal=principal)


# --- funded projects and statistics --------------------------------------------------------------


@router.get("/projects")
def projects(request: Request, db: DB, principal: MaybePrincipal):
    rows = []
    for allocation in allocations.list_allocations(db):
        proposal = proposals.get_proposal(db, allocation.proposal_id)
        rows.append({"allocation": allocation, "summary": proposal.summary, "institution": proposal.institution.name,
                     "hours": allocation.budget_gpu_seconds // SECONDS_PER_HOUR})
    return render(request, "access/projects.html", {
        "rows": rows, "names": state_names(db), "labels": LABELS,
        "total_hours": sum(r["hours"] for r in rows if r["allocation"].status.value != "revoked"),
        "is_panel": policy.sees_panel(principal)}, principal=principal)


@router.get("/access/statistics")
def access_statistics(request: Request, db: DB, principal: MaybePrincipal,
                      call: int | None = Query(None, ge=1, le=2**31 - 1)):
    chosen = calls.visible_call(db, call, sees_drafts=False) if call is not None else None
    by_state, by_track = statistics.by_state_and_track(db, call)
    shares = statistics.shares(db)
    names = state_names(db)
    state_codes = [line.member_state or "" for line in by_state]
    track_names = [TRACK_LABELS[line.track.value] if line.track else "" for line in by_track]

    def volume(chart_id: str, what: str, labels: list[str], lines) -> dict:
        return bar_chart(chart_id, f"GPU-hours requested and awarded by {what}", labels,
                         [("Requested", [x.requested_hours for x in lines]),
                          ("Awarded", [x.awarded_hours for x in lines])])

    charts = {
        "state_proposals": bar_chart("state-proposals", "Proposals submitted by member state", state_codes,
                                     [("Proposals", [x.proposals for x in by_state])]),
        "state_hours": volume("state-hours", "member state", state_codes, by_state),
        "track_proposals": bar_chart("track-proposals", "Proposals submitted by track", track_names,
                                     [("Proposals", [x.proposals for x in by_track])]),
        "track_hours": volume("track-hours", "track", track_names, by_track),
        "shares": bar_chart("shares", "Share of GPU-hours awarded and share of contributions by member state",
                            [s.member_state for s in shares],
                            [("Allocated share", [s.allocated_share for s in shares]),
                             ("Contribution share", [s.contribution_share or Fraction(0) for s in shares])],
                            fmt=percent),
    }
    return render(request, "access/statistics.html", {
        "by_state": by_state, "by_track": by_track, "shares": shares, "names": names, "labels": LABELS,
        "charts": charts, "chosen": chosen, "percent": percent,
        "calls": calls.list_calls(db, include_drafts=False)}, principal=principal)
