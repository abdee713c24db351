"""The operators' motion editor: draft and edit motions, attach documents, and move each one to its next step."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from aicommons.deps import DB, MaybePrincipal
from aicommons.errors import DomainError, FieldError, Invalid, invalid_field
from aicommons.governance import agenda, council, policy, rules, service
from aicommons.governance.models import Motion, ScaleStatus
from aicommons.governance.rules import MotionKind
from aicommons.identity.models import MembershipStatus, MemberState
from aicommons.identity.policy import Principal
from aicommons.ledger.service import rfc3339
from aicommons.web.council_pages import page_errors, text_of
from aicommons.web.governance_pages import LABELS, amendment_rules, state_names
from aicommons.web.labels import MOTION_KIND_LABELS, OUTCOME_LABELS, STATUS_LABELS
from aicommons.web.render import CsrfForm, login_redirect, redirect, render

router = APIRouter(include_in_schema=False)
# Amendments are drafted through the API; calls and slates are put to the council from the calls' pages,
# which draft their motions with the terms attached.
FROM_ELSEWHERE = (MotionKind.CONSTITUTION_AMENDMENT, MotionKind.CALL_APPROVAL, MotionKind.SLATE_APPROVAL)
DRAFTABLE = [kind for kind in MotionKind if kind not in FROM_ELSEWHERE]
MAX_TITLE, MAX_TEXT, MAX_REFERENCE = 300, 100_000, 200
DEFAULT_VOTING_DAYS = 7


async def _upload_form(request: Request, form: CsrfForm) -> dict[str, Any]:
    """The CSRF-checked form plus its uploaded file as (name, media type, bytes); read here, off the handler."""
    upload = (await request.form()).get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        # One byte over the limit is enough for the service to refuse it; never hold more than that.
        content = await upload.read(agenda.MAX_ATTACHMENT_BYTES + 1)
        return {**form, "file": (upload.filename, upload.content_type or "", content)}
    return {**form, "file": None}


UploadForm = Annotated[dict[str, Any], Depends(_upload_form)]


def _operator(principal: Principal | None) -> Principal | None:
    """The operator acting, or None when the browser must sign in first; 403 for anyone else."""
    if principal is not None:
        policy.can_run_council(principal)
    return principal


# --- reading the forms ---------------------------------------------------------------------------


def _whole_number(form: dict[str, Any], name: str, low: int, high: int, message: str) -> int:
    raw = text_of(form, name)
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9 or not low <= int(raw) <= high:
        raise invalid_field(("body", name), message)
    return int(raw)


def _title_and_text(form: dict[str, Any]) -> tuple[str, str]:
    title, text = text_of(form, "title"), form.get("text") if isinstance(form.get("text"), str) else ""
    problems = []
    if not title or len(title) > MAX_TITLE:
        problems.append(FieldError(("body", "title"), f"give the motion a title of at most {MAX_TITLE} characters"))
    if not text.strip() or len(text) > MAX_TEXT:
        problems.append(FieldError(("body", "text"), f"write the motion's text (at most {MAX_TEXT:,} characters)"))
    if problems:
        raise Invalid("; ".join(p.message for p in problems), problems)
    return title, text


def _payload(form: dict[str, Any], kind: MotionKind) -> dict[str, Any]:
    """What the motion does, from the inputs of its kind; the service checks it against the records."""
    if kind is MotionKind.ADMISSION:
        code = text_of(form, "member_state")
        if not code:
            raise invalid_field(("body", "member_state"), "choose the state to admit")
        return {"member_state": code, "status": text_of(form, "admission_status") or MembershipStatus.MEMBER.value}
    if kind is MotionKind.CONTRIBUTION_SCALE:
        return {"scale_id": _whole_number(form, "scale_id", 1, 2**31 - 1, "choose the proposed scale to adopt")}
    waive_state = text_of(form, "waive_state")
    if kind is MotionKind.POLICY and (waive_state or text_of(form, "waive_year")):
        if not waive_state:
            raise invalid_field(("body", "waive_state"), "choose the state whose arrears the council waives")
        year = _whole_number(form, "waive_year", 1950, 2100, "give the year of the arrears, e.g. 2026")
        return {"waive_arrears": {"member_state": waive_state, "year": year}}
    reference = text_of(form, "reference")
    if len(reference) > MAX_REFERENCE:
        raise invalid_field(("body", "reference"), f"a reference is at most {MAX_REFERENCE} characters")
    return {"reference": reference} if reference else {}


def _participants(form: dict[str, Any]) -> list[str] | None:
    codes = [c.upper() for c in re.split(r"[\s,;]+", text_of(form, "participants")) if c]
    return codes or None


def _form_of(motion: Motion) -> dict[str, str]:
    """The edit form filled in with what the motion says now."""
    payload = motion.payload
    waiver = payload.get("waive_arrears") or {}
    return {"title": motion.title, "text": motion.text, "member_state": payload.get("member_state", ""),
            "admission_status": payload.get("status", ""), "scale_id": str(payload.get("scale_id", "")),
            "reference": payload.get("reference") or "", "waive_state": waiver.get("member_state", ""),
            "waive_year": str(waiver.get("year", "")), "participants": ", ".join(motion.participants or []),
            "voting_days": str(DEFAULT_VOTING_DAYS)}


# --- the pages -----------------------------------------------------------------------------------


def _options(db: Session) -> dict[str, Any]:
    states = list(db.scalars(select(MemberState).order_by(MemberState.code)))
    scales = [s for s in service.list_scales(db) if s.status is ScaleStatus.PROPOSED]
    return {
        "kind_options": [(k.value, MOTION_KIND_LABELS[k.value]) for k in DRAFTABLE],
        "state_options": [(s.code, f"{s.name} ({s.code}), now {STATUS_LABELS[s.status.value].lower()}")
                          for s in states],
        "admission_options": [(s, STATUS_LABELS[s]) for s in ("member", "associate_member")],
        "scale_options": [(str(s.id), f"Scale {s.id}, computed {s.computed_at:%Y-%m-%d}") for s in scales],
        "dues_state_options": [(code, f"{code}: arrears {summary.arrears_eur:,} EUR")
                               for code, summary in sorted(service.dues_summaries(db).items())],
        "notice_minimum": agenda.constitution(db).notice_days, "labels": LABELS}


def _list_page(request: Request, db: Session, principal: Principal, *, form=None, errors=None,
               status_code: int = 200):
    return render(request, "governance/motions.html", {
        **_options(db), "motions": agenda.list_motions(db, viewer=principal), "form": form or {"kind": "policy"},
        "errors": errors or {}}, status_code=status_code, principal=principal)


def _motion_page(request: Request, db: Session, principal: Principal, motion_id: int, *, form=None, errors=None,
                 status_code: int = 200):
    motion = agenda.get_motion(db, motion_id, viewer=principal)
    options = _options(db)
    voted = len(council.final_ballots(db, motion.id)) if motion.electorate else 0
    return render(request, "governance/motion.html", {
        **options, "motion": motion, "editable": motion.status in agenda.EDITABLE,
        "form": {**_form_of(motion), "notice_days": str(options["notice_minimum"]), **(form or {})},
        "errors": errors or {}, "names": state_names(db), "voted": voted,
        "amendment": amendment_rules(motion.payload) if motion.kind is MotionKind.CONSTITUTION_AMENDMENT else [],
        "rule_text": rules.describe(agenda.rule_for(agenda.constitution(db), motion.kind))},
        status_code=status_code, principal=principal)


@router.get("/council/motions")
def motion_list(request: Request, db: DB, principal: MaybePrincipal):
    if _operator(principal) is None:
        return login_redirect(request)
    return _list_page(request, db, principal)


@router.post("/council/motions")
def motion_draft(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal):
    if _operator(principal) is None:
        return login_redirect(request)
    try:
        kind_value = text_of(form, "kind")
        if kind_value == MotionKind.CONSTITUTION_AMENDMENT.value:
            raise invalid_field(("body", "kind"), "constitution amendments are drafted through the API only")
        if kind_value not in {k.value for k in DRAFTABLE}:
            raise invalid_field(("body", "kind"), "choose what kind of motion this is")
        kind = MotionKind(kind_value)
        title, text = _title_and_text(form)
        motion = agenda.draft_motion(db, actor=principal, kind=kind, title=title, text=text,
                                      payload=_payload(form, kind), participants=_participants(form))
    except DomainError as exc:
        db.rollback()
        return _list_page(request, db, principal, form=form, errors=page_errors(exc), status_code=exc.status)
    return redirect(f"/council/motions/{motion.id}", request,
                    f"Motion {motion.id} drafted. Only operators see it until notice is given.")


@router.get("/council/motions/{motion_id}")
def motion_detail(request: Request, db: DB, principal: MaybePrincipal, motion_id: int):
    if _operator(principal) is None:
        return login_redirect(request)
    return _motion_page(request, db, principal, motion_id)


def _act(request: Request, db: Session, principal: Principal, motion_id: int, form: dict[str, Any],
         action: Callable[[], str]):
    """Run one change; on success go back to the motion with its message, on failure show why, changing nothing."""
    try:
        message = action()
    except DomainError as exc:
        db.rollback()
        return _motion_page(request, db, principal, motion_id, form=form, errors=page_errors(exc),
                            status_code=exc.status)
    return redirect(f"/council/motions/{motion_id}", request, message)


@router.post("/council/motions/{motion_id}/edit")
def motion_edit(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, motion_id: int):
    if _operator(principal) is None:
        return login_redirect(request)

    def edit() -> str:
        motion = agenda.get_motion(db, motion_id, viewer=principal)
        title, text = _title_and_text(form)
        # An amendment's rules are JSON; they are edited through the API, not this form.
        payload = None if motion.kind in FROM_ELSEWHERE else _payload(form, motion.kind)
        participants = _participants(form) or ([] if motion.participants else None)
        agenda.edit_motion(db, motion_id=motion_id, actor=principal, title=title, text=text, payload=payload,
                            participants=participants)
        return f"Motion {motion_id} saved."

    return _act(request, db, principal, motion_id, form, edit)


@router.post("/council/motions/{motion_id}/attachments")
def motion_attach(request: Request, form: UploadForm, db: DB, principal: MaybePrincipal, motion_id: int):
    if _operator(principal) is None:
        return login_redirect(request)

    def attach() -> str:
        agenda.get_motion(db, motion_id, viewer=principal)
        upload = form.get("file")
        if upload is None:
            raise invalid_field(("body", "file"), "choose a file to attach")
        filename, media_type, content = upload
        attachment = agenda.add_attachment(db, motion_id=motion_id, filename=filename, media_type=media_type,
                                            content=content, actor=principal)
        return f"{attachment.filename} attached ({attachment.size:,} bytes, SHA-256 {attachment.sha256[:12]}…)."

    return _act(request, db, principal, motion_id, {k: v for k, v in form.items() if k != "file"}, attach)


@router.post("/council/motions/{motion_id}/attachments/{attachment_id}/remove")
def motion_detach(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, motion_id: int,
                  attachment_id: int):
    if _operator(principal) is None:
        return login_redirect(request)

    def detach() -> str:
        attachment = agenda.get_attachment(db, motion_id=motion_id, attachment_id=attachment_id, viewer=principal)
        name = attachment.filename
        agenda.remove_attachment(db, motion_id=motion_id, attachment_id=attachment_id, actor=principal)
        return f"{name} removed."

    return _act(request, db, principal, motion_id, {}, detach)


@router.post("/council/motions/{motion_id}/notice")
def motion_notice(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, motion_id: int):
    if _operator(principal) is None:
        return login_redirect(request)

    def notice() -> str:
        days = _whole_number(form, "notice_days", 0, 365, "give the notice period in whole days")
        motion = council.give_notice(db, actor=principal, motion_id=motion_id, notice_days=days)
        return f"Notice given for motion {motion_id}: it is public now, and voting may open from " \
               f"{rfc3339(motion.notice_ends_at)}."

    return _act(request, db, principal, motion_id, form, notice)


@router.post("/council/motions/{motion_id}/open-voting")
def motion_open(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, motion_id: int):
    if _operator(principal) is None:
        return login_redirect(request)

    def open_vote() -> str:
        days = _whole_number(form, "voting_days", 1, council.MAX_VOTING_DAYS,
                             f"voting lasts from 1 to {council.MAX_VOTING_DAYS} days")
        motion = council.open_voting(db, actor=principal, motion_id=motion_id, voting_days=days)
        return f"Voting on motion {motion_id} is open until {rfc3339(motion.voting_closes_at)}."

    return _act(request, db, principal, motion_id, form, open_vote)


@router.post("/council/motions/{motion_id}/close")
def motion_close(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, motion_id: int):
    if _operator(principal) is None:
        return login_redirect(request)

    def close() -> str:
        council.close_voting(db, actor=principal, motion_id=motion_id)
        return f"Voting on motion {motion_id} is closed. Count it next."

    return _act(request, db, principal, motion_id, {}, close)


@router.post("/council/motions/{motion_id}/tally")
def motion_tally(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, motion_id: int):
    if _operator(principal) is None:
        return login_redirect(request)

    def count() -> str:
        motion = council.tally_motion(db, actor=principal, motion_id=motion_id)
        return f"Motion {motion_id} is counted: {OUTCOME_LABELS[motion.outcome or '']}. Publish it next."

    return _act(request, db, principal, motion_id, {}, count)


@router.post("/council/motions/{motion_id}/publish")
def motion_publish(request: Request, form: CsrfForm, db: DB, principal: MaybePrincipal, motion_id: int):
    if _operator(principal) is None:
        return login_redirect(request)

    def publish() -> str:
        motion = council.publish_motion(db, actor=principal, motion_id=motion_id)
        return f"Motion {motion_id} is published: {OUTCOME_LABELS[motion.outcome or '']}."

    return _act(request, db, principal, motion_id, {}, publish)

