"""The council's agenda: the constitution in force, and motions before the vote (drafting, editing,
attachments).

A draft is private to operators. Once notice is given a motion is public; a change during the notice
period is published in the ledger and restarts the notice period. When voting opens (``council.py``)
the text, the attachments, the rule and the electorate are fixed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.errors import Conflict, NotFound, invalid_field
from aicommons.governance import rules, service
from aicommons.governance.models import (
    ConstitutionVersion,
    Motion,
    MotionAttachment,
    MotionStatus,
    ScaleStatus,
)
from aicommons.governance.rules import MotionKind
from aicommons.identity.models import MembershipStatus, MemberState, Role
from aicommons.identity.policy import Principal
from aicommons.ledger import service as ledger

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 20
EDITABLE = (MotionStatus.DRAFT, MotionStatus.NOTICE)


def _actor(principal: Principal | None) -> str | None:
    return ledger.urn("person", principal.person_id) if principal else None


def motion_urn(motion_id: int) -> str:
    return ledger.urn("motion", motion_id)


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- the constitution --------------------------------------------------------------------------


def constitution(session: Session, version: int | None = None) -> ConstitutionVersion:
    """The version in force (the highest), or a named one."""
    if version is not None:
        row = session.get(ConstitutionVersion, version)
    else:
        row = session.scalar(select(ConstitutionVersion).order_by(ConstitutionVersion.version.desc()).limit(1))
    if row is None:
        raise NotFound(f"no constitution version {version}" if version else "no constitution on file")
    return row


def constitution_history(session: Session) -> list[ConstitutionVersion]:
    return list(session.scalars(select(ConstitutionVersion).order_by(ConstitutionVersion.version.desc())))


def rule_for(row: ConstitutionVersion, kind: MotionKind) -> rules.Rule:
    return rules.Rule.from_dict(row.rules[kind.value])


# --- motions: drafting ---------------------------------------------------------------------------


def _check_payload(session: Session, kind: MotionKind, payload: dict[str, Any]) -> dict[str, Any]:
    """What a motion does when it passes, checked now so a passed motion cannot fail to take effect."""
    loc = ("body", "payload")
    if kind is MotionKind.CONSTITUTION_AMENDMENT:
        try:
            new_rules = rules.rules_from_dict(payload.get("rules") or {})
        except rules.RuleError as exc:
            raise invalid_field((*loc, *exc.field.split(".")), str(exc)) from exc
        if service.scale_in_force(session) is None:
            for kind, rule in new_rules.items():
                if rule.weighting is not rules.Weighting.ONE_STATE_ONE_VOTE:
                    # Weights come from a scale in force; with none, such motions could never open, and
                    # if they are the ones that adopt a scale or amend the rules, nothing could undo it.
                    raise invalid_field((*loc, "rules", kind.value, "weighting"),
                                        "no contribution scale is in force yet, so votes cannot be weighted")
        notice_days = payload.get("notice_days", rules.DEFAULT_NOTICE_DAYS)
        if not isinstance(notice_days, int) or not 0 <= notice_days <= 365:
            raise invalid_field((*loc, "notice_days"), "a whole number of days from 0 to 365")
        return {"rules": rules.rules_to_dict(new_rules), "notice_days": notice_days}
    if kind is MotionKind.ADMISSION:
        code = str(payload.get("member_state", "")).upper()
        if session.get(MemberState, code) is None:
            raise invalid_field((*loc, "member_state"), f"'{code}' is not a registered state; register it first "
                                "(as an observer) and then move its admission")
        status = payload.get("status", MembershipStatus.MEMBER.value)
        if status not in (MembershipStatus.MEMBER.value, MembershipStatus.ASSOCIATE_MEMBER.value):
            raise invalid_field((*loc, "status"), "admission is as 'member' or 'associate_member'")
        return {"member_state": code, "status": status}
    if kind is MotionKind.CONTRIBUTION_SCALE:
        scale_id = payload.get("scale_id")
        if not isinstance(scale_id, int):
            raise invalid_field((*loc, "scale_id"), "name the proposed contribution scale to adopt")
        try:
            scale = service.get_scale(session, scale_id)
        except NotFound as exc:
            raise invalid_field((*loc, "scale_id"), str(exc)) from exc
        if scale.status is not ScaleStatus.PROPOSED:
            raise invalid_field((*loc, "scale_id"), f"contribution scale {scale_id} is {scale.status.value}; "
                                "only a proposed scale can be put to the council")
        return {"scale_id": scale_id}
    if kind is MotionKind.POLICY and "waive_arrears" in payload:
        waiver = payload["waive_arrears"]
        if not isinstance(waiver, dict) or not isinstance(waiver.get("year"), int):
            raise invalid_field((*loc, "waive_arrears"), 'give {"member_state": "XX", "year": 2026}')
        code = str(waiver.get("member_state", "")).upper()
        summary = service.dues_summaries(session).get(code)
        if summary is None:
            raise invalid_field((*loc, "waive_arrears", "member_state"), f"no dues recorded for '{code}'")
        if waiver["year"] not in {row.year for row in summary.years}:
            raise invalid_field((*loc, "waive_arrears", "year"), f"no dues recorded for {code} in {waiver['year']}")
        return {"waive_arrears": {"member_state": code, "year": waiver["year"]}}
    if kind in (MotionKind.CALL_APPROVAL, MotionKind.SLATE_APPROVAL):
        # Imported here: access builds on governance (it puts calls and slates to the council), so
        # governance reaches access only at the moment a motion about a call or slate needs checking.
        from aicommons.access import council_hooks

        return council_hooks.check_payload(session, kind, payload)
    # Budgets carry their reference; the attachments carry the tables voted on.
    reference = payload.get("reference")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 200):
        raise invalid_field((*loc, "reference"), "a reference is a string of at most 200 characters")
    return {"reference": reference} if reference else {}


def _check_participants(session: Session, participants: list[str] | None) -> list[str] | None:
    if participants is None:
        return None
    codes = sorted({p.upper() for p in participants})
    unknown = [c for c in codes if session.get(MemberState, c) is None]
    if unknown:
        raise invalid_field(("body", "participants"), f"unknown member states: {', '.join(unknown)}")
    return codes


def draft_motion(session: Session, *, actor: Principal, kind: MotionKind, title: str, text: str,
                 payload: dict[str, Any] | None = None, participants: list[str] | None = None) -> Motion:
    """A new motion, private to operators until notice is given."""
    moment = clock.now()
    title, text = _required_text(title, "title"), _required_text(text, "text")
    motion = Motion(kind=kind, title=title, text=text, payload=_check_payload(session, kind, payload or {}),
                    participants=_check_participants(session, participants), status=MotionStatus.DRAFT,
                    created_by_id=actor.person_id, created_at=moment, updated_at=moment)
    session.add(motion)
    session.flush()
    return motion


def _required_text(value: str, name: str) -> str:
    if not value or not value.strip():
        raise invalid_field(("body", name), f"the motion needs a {name}")
    return value.strip() if name == "title" else value


def get_motion(session: Session, motion_id: int, *, viewer: Principal | None = None) -> Motion:
    """A motion; drafts exist only for operators (everyone else gets 404)."""
    motion = session.get(Motion, motion_id)
    if motion is None or (motion.status is MotionStatus.DRAFT and not _sees_drafts(viewer)):
        raise NotFound(f"no motion {motion_id}")
    return motion


def _sees_drafts(viewer: Principal | None) -> bool:
    return viewer is not None and viewer.has_role(Role.OPERATOR)


def list_motions(session: Session, *, viewer: Principal | None = None,
                 status: MotionStatus | None = None) -> list[Motion]:
    query = select(Motion).order_by(Motion.id.desc())
    if status is not None:
        query = query.where(Motion.status == status)
    if not _sees_drafts(viewer):
        query = query.where(Motion.status != MotionStatus.DRAFT)
    return list(session.scalars(query))


def require_status(motion: Motion, *allowed: MotionStatus, doing: str) -> None:
    if motion.status not in allowed:
        names = " or ".join(s.value for s in allowed)
        raise Conflict(f"motion {motion.id} is {motion.status.value}; {doing} needs it to be {names}")


def edit_motion(session: Session, *, motion_id: int, actor: Principal | None = None, title: str | None = None,
                text: str | None = None, payload: dict[str, Any] | None = None,
                participants: list[str] | None = None) -> Motion:
    """Change a motion before voting opens; afterwards what was voted on is fixed."""
    motion = load_for_update(session, motion_id)
    require_status(motion, *EDITABLE, doing="editing")
    if title is not None:
        motion.title = _required_text(title, "title")
    if text is not None:
        motion.text = _required_text(text, "text")
    if payload is not None:
        motion.payload = _check_payload(session, motion.kind, payload)
    if participants is not None:
        motion.participants = _check_participants(session, participants)
    _revised(session, motion, actor)
    return motion


def _revised(session: Session, motion: Motion, actor: Principal | None) -> None:
    """Note a change; during the notice period it is published and the full notice period starts again,
    so the council always has the notice the constitution requires of the text it will vote on."""
    moment = clock.now()
    motion.updated_at = moment
    if motion.status is MotionStatus.NOTICE:
        assert motion.notice_given_at is not None and motion.notice_ends_at is not None
        motion.notice_ends_at = moment + (motion.notice_ends_at - motion.notice_given_at)
        motion.notice_given_at = moment
        session.flush()
        ledger.record(session, kind="governance.motion.revised", subject=motion_urn(motion.id), actor=_actor(actor),
                      data={"title": motion.title, "text_sha256": text_digest(motion.text),
                            "payload": motion.payload, "participants": motion.participants,
                            "attachments": [{"filename": a.filename, "sha256": a.sha256, "size": a.size}
                                            for a in motion.attachments],
                            "notice_ends_at": ledger.rfc3339(motion.notice_ends_at)})
    session.flush()


def load_for_update(session: Session, motion_id: int) -> Motion:
    motion = session.scalar(select(Motion).where(Motion.id == motion_id).with_for_update())
    if motion is None:
        raise NotFound(f"no motion {motion_id}")
    return motion


def add_attachment(session: Session, *, motion_id: int, filename: str, media_type: str,
                   content: bytes, actor: Principal | None = None) -> MotionAttachment:
    motion = load_for_update(session, motion_id)
    require_status(motion, *EDITABLE, doing="adding an attachment")
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise invalid_field(("body", "file"), f"an attachment may be at most {MAX_ATTACHMENT_BYTES} bytes")
    if not content:
        raise invalid_field(("body", "file"), "the attachment is empty")
    name = filename.strip().replace("/", "_").replace("\\", "_")[:200]
    if not name:
        raise invalid_field(("body", "filename"), "give the attachment a file name")
    if any(a.filename == name for a in motion.attachments):
        raise Conflict(f"motion {motion_id} already has an attachment named '{name}'")
    if len(motion.attachments) >= MAX_ATTACHMENTS:
        raise Conflict(f"a motion may carry at most {MAX_ATTACHMENTS} attachments")
    attachment = MotionAttachment(filename=name, media_type=media_type[:100] or "application/octet-stream",
                                  size=len(content), sha256=hashlib.sha256(content).hexdigest(), content=content,
                                  added_at=clock.now())
    motion.attachments.append(attachment)
    session.flush()
    _revised(session, motion, actor)
    return attachment


def remove_attachment(session: Session, *, motion_id: int, attachment_id: int,
                      actor: Principal | None = None) -> None:
    motion = load_for_update(session, motion_id)
    require_status(motion, *EDITABLE, doing="removing an attachment")
    found = [a for a in motion.attachments if a.id == attachment_id]
    if not found:
        raise NotFound(f"motion {motion_id} has no attachment {attachment_id}")
    motion.attachments.remove(found[0])
    session.flush()
    _revised(session, motion, actor)


def get_attachment(session: Session, *, motion_id: int, attachment_id: int,
                   viewer: Principal | None) -> MotionAttachment:
    get_motion(session, motion_id, viewer=viewer)
    attachment = session.get(MotionAttachment, attachment_id)
    if attachment is None or attachment.motion_id != motion_id:
        raise NotFound(f"motion {motion_id} has no attachment {attachment_id}")
    return attachment
