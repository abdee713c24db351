"""Public governance pages: decisions with their roll-call and tally, the contribution scale, the constitution."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.deps import DB, MaybePrincipal
from aicommons.governance import agenda, contributions, council, rules, service
from aicommons.governance.models import ContributionScale, Motion, MotionStatus, ScaleStatus
from aicommons.governance.rules import MotionKind, Rule, Tie, Weighting
from aicommons.identity.models import MemberState, Role
from aicommons.web.labels import (
    CHOICE_LABELS,
    MOTION_KIND_LABELS,
    MOTION_STATUS_LABELS,
    OUTCOME_LABELS,
    SCALE_STATUS_LABELS,
    STATUS_LABELS,
)
from aicommons.web.render import render

router = APIRouter(include_in_schema=False)
LABELS = {"kind": MOTION_KIND_LABELS, "status": MOTION_STATUS_LABELS, "choice": CHOICE_LABELS,
          "outcome": OUTCOME_LABELS, "scale": SCALE_STATUS_LABELS, "membership": STATUS_LABELS}


def state_names(db: Session) -> dict[str, str]:
    return {code: name for code, name in db.execute(select(MemberState.code, MemberState.name))}


def percent(value: Fraction | Decimal, places: int = 2) -> str:
    return f"{float(value) * 100:.{places}f}%"


def number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.6f}"


def ledger_url(motion_id: int) -> str:
    return "/ledger?" + urlencode({"subject": agenda.motion_urn(motion_id)})


# --- decisions -----------------------------------------------------------------------------------


@router.get("/decisions")
def decisions(request: Request, db: DB, principal: MaybePrincipal):
    # Drafts belong in the operators' motion editor, never in the public list.
    motions = agenda.list_motions(db, viewer=None)
    return render(request, "governance/decisions.html", {"motions": motions, "labels": LABELS}, principal=principal)


def _rule_of(db: Session, motion: Motion) -> tuple[Rule, int, bool]:
    """The rule deciding ``motion``, the constitution version it comes from, and whether it is fixed yet."""
    if motion.rule is not None and motion.constitution_version is not None:
        return Rule.from_dict(motion.rule), motion.constitution_version, True
    charter = agenda.constitution(db)
    return agenda.rule_for(charter, motion.kind), charter.version, False


def tally_view(raw: dict) -> dict:
    """The recorded tally, with every fraction also as a percentage for readers."""
    tie = Tie(raw["rule"]["tie"])
    parts = []
    for part in raw["parts"]:
        in_favour, base, threshold = (Fraction(part[k]) for k in ("in_favour", "base", "threshold"))
        parts.append({"measure": part["measure"], "in_favour": number(in_favour), "base": number(base),
                      "share": percent(in_favour / base) if base else "no votes in the base",
                      "threshold": f"{rules.threshold_words(threshold, tie)} ({percent(threshold)})",
                      "passed": part["passed"]})
    quorum_needed = Fraction(raw["quorum_needed"])
    return {"counts": raw["counts"], "electorate": len(raw["eligible"]), "taking_part": raw["taking_part"],
            "quorum_needed": number(quorum_needed), "quorum_met": raw["quorum_met"], "parts": parts,
            "ignored": raw["ignored"], "outcome": raw["outcome"], "workings": raw["workings"]}


def amendment_rules(payload: dict) -> list[tuple[str, str]]:
    """An amendment's proposed rules in words, kind by kind."""
    return [(MOTION_KIND_LABELS[kind.value], rules.describe(Rule.from_dict(payload["rules"][kind.value])))
            for kind in MotionKind if kind.value in payload.get("rules", {})]


@router.get("/decisions/{motion_id}")
def decision(request: Request, db: DB, principal: MaybePrincipal, motion_id: int):
    motion = agenda.get_motion(db, motion_id, viewer=principal)
    rule, version, fixed = _rule_of(db, motion)
    lines = council.roll_call(db, motion)
    return render(request, "governance/decision.html", {
        "motion": motion, "labels": LABELS, "names": state_names(db), "rule": rule, "rule_text": rules.describe(rule),
        "rule_data": rule.to_dict(), "rule_version": version, "rule_fixed": fixed,
        "weighted": rule.weighting is not Weighting.ONE_STATE_ONE_VOTE, "lines": lines,
        "voted": sum(1 for line in lines if line.ballot is not None),
        "tally": tally_view(motion.tally) if motion.tally else None,
        "amendment": amendment_rules(motion.payload) if motion.kind is MotionKind.CONSTITUTION_AMENDMENT else [],
        "ledger_url": ledger_url(motion.id), "is_operator": principal is not None and principal.has_role(Role.OPERATOR),
        "motion_urn": agenda.motion_urn(motion.id)}, principal=principal)


# --- contributions -------------------------------------------------------------------------------

CHART_WIDTH, CHART_LABEL, CHART_BAR, CHART_ROW = 400, 40, 290, 26


def formula_steps() -> list[str]:
    """The numbered steps of the formula, read from the formula module itself so page and code agree."""
    doc = contributions.__doc__ or ""
    _, _, body = doc.partition("The formula")
    body = body.split("\n", 1)[1] if "\n" in body else ""
    steps = re.split(r"\n\s*\d+\.\s+", "\n" + body.strip())
    return [" ".join(step.split()) for step in steps if step.strip()]


def share_chart(states: list[dict], names: dict[str, str]) -> dict:
    """Geometry of a horizontal bar chart of the shares, longest bar for the largest share."""
    largest = max((Decimal(s["share"]) for s in states), default=Decimal(0)) or Decimal(1)
    bars = []
    for i, s in enumerate(states):
        share = Decimal(s["share"])
        width = float(share / largest) * CHART_BAR
        bars.append({"code": s["state"], "name": names.get(s["state"], s["state"]), "percent": percent(share),
                     "y": 8 + i * CHART_ROW, "width": round(width, 1), "text_x": round(CHART_LABEL + width + 6, 1)})
    return {"width": CHART_WIDTH, "height": 16 + len(states) * CHART_ROW, "label_x": CHART_LABEL - 8,
            "bar_x": CHART_LABEL, "bar_height": CHART_ROW - 8, "bars": bars}


def _chosen_scale(db: Session, scale_id: int | None) -> ContributionScale | None:
    if scale_id is not None:
        return service.get_scale(db, scale_id)
    in_force = service.scale_in_force(db)
    if in_force is not None:
        return in_force
    return next((s for s in service.list_scales(db) if s.status is ScaleStatus.PROPOSED), None)


def dues_rows(db: Session, year: int) -> list[dict]:
    """Each state's dues by year, its arrears and whether it keeps its vote, as the council rules count them."""
    statuses = {s.code: s for s in db.scalars(select(MemberState).order_by(MemberState.code))}
    out = []
    for code, summary in sorted(service.dues_summaries(db, year=year).items()):
        state = statuses.get(code)
        over = summary.arrears_eur > summary.due_recent_eur
        waivers = [r.vote_waiver_motion_id for r in summary.years
                   if r.vote_waiver_motion_id is not None and r.year >= year - 1]
        if state is not None and state.status.value != "member":
            vote = ("n/a", f"does not vote ({STATUS_LABELS[state.status.value].lower()})")
        elif over and not summary.waived:
            vote = ("loses", "loses its vote: arrears exceed what was due this year and last")
        elif over:
            vote = ("waived", "keeps its vote despite arrears (waived by the council)")
        else:
            vote = ("votes", "votes")
        out.append({"code": code, "name": state.name if state else code, "summary": summary, "vote": vote,
                    "waivers": waivers,
                    "years": [(r, r.due_eur - r.paid_eur) for r in summary.years]})
    return out


@router.get("/contributions")
def contributions_page(request: Request, db: DB, principal: MaybePrincipal,
                       scale: int | None = Query(None, ge=1, le=2**31 - 1)):
    chosen = _chosen_scale(db, scale)
    in_force = service.scale_in_force(db)
    names = state_names(db)
    year = clock.now().year
    workings = chosen.workings if chosen is not None else None
    return render(request, "governance/contributions.html", {
        "scale": chosen, "in_force": in_force, "workings": workings, "labels": LABELS, "names": names,
        "chart": share_chart(workings["states"], names) if workings else None,
        "others": [s for s in service.list_scales(db) if chosen is None or s.id != chosen.id],
        "steps": formula_steps(), "year": year, "dues": dues_rows(db, year)}, principal=principal)


# --- the constitution ----------------------------------------------------------------------------


def _changes(newer: dict, older: dict | None) -> list[str]:
    if older is None:
        return ["founding text"]
    kinds = [MOTION_KIND_LABELS.get(k, k) for k in newer if newer.get(k) != older.get(k)]
    return kinds or ["no rule changed"]


@router.get("/constitution")
def constitution_page(request: Request, db: DB, principal: MaybePrincipal):
    current = agenda.constitution(db)
    history = agenda.constitution_history(db)
    rows = []
    for kind in MotionKind:
        rule = agenda.rule_for(current, kind)
        rows.append({"kind": kind.value, "label": MOTION_KIND_LABELS[kind.value], "text": rules.describe(rule),
                     "data": rule.to_dict()})
    versions = []
    for i, version in enumerate(history):
        older = history[i + 1] if i + 1 < len(history) else None
        changed = _changes(version.rules, older.rules if older else None)
        if older is not None and older.notice_days != version.notice_days:
            changed.append(f"notice period {older.notice_days} → {version.notice_days} days")
        versions.append({"row": version, "changed": changed})
    amending = agenda.list_motions(db, viewer=None)
    pending = [m for m in amending if m.kind is MotionKind.CONSTITUTION_AMENDMENT
               and m.status not in (MotionStatus.PUBLISHED,)]
    return render(request, "governance/constitution.html", {
        "current": current, "rows": rows, "versions": versions, "pending": pending, "labels": LABELS},
        principal=principal)
