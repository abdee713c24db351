"""What the council's decisions on calls and slates do to access (called from governance).

Governance cannot import access at module level (access puts its motions to governance), so it calls
these two functions at the moment a motion about a call or a slate is drafted or published.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from aicommons.access import calls, decisions
from aicommons.access.models import Call, CallStatus, Slate, SlateStatus
from aicommons.errors import invalid_field
from aicommons.governance.models import Motion
from aicommons.governance.rules import MotionKind


def check_payload(session: Session, kind: MotionKind, payload: dict[str, Any]) -> dict[str, Any]:
    """A call-approval motion names a call awaiting approval; a slate motion names a proposed slate."""
    key, model, waiting = (("call_id", Call, CallStatus.AWAITING_APPROVAL) if kind is MotionKind.CALL_APPROVAL
                           else ("slate_id", Slate, SlateStatus.PROPOSED))
    ident = payload.get(key)
    what = "call" if kind is MotionKind.CALL_APPROVAL else "slate"
    row = session.get(model, ident) if isinstance(ident, int) and not isinstance(ident, bool) else None
    if row is None:
        raise invalid_field(("body", "payload", key), f"name the {what} to approve; calls and slates are put to "
                            "the council from the calls' pages, which draft this motion")
    if row.status is not waiting:
        raise invalid_field(("body", "payload", key), f"{what} {ident} is {row.status.value.replace('_', ' ')}")
    return {key: ident}


def take_effect(session: Session, motion: Motion, *, passed: bool) -> str:
    if motion.kind is MotionKind.CALL_APPROVAL:
        call_id = motion.payload["call_id"]
        if passed:
            return calls.open_approved_call(session, call_id=call_id, motion_id=motion.id)
        return calls.return_rejected_call(session, call_id=call_id, motion_id=motion.id)
    slate_id = motion.payload["slate_id"]
    if passed:
        return decisions.approve_slate(session, slate_id=slate_id, motion_id=motion.id)
    return decisions.return_rejected_slate(session, slate_id=slate_id, motion_id=motion.id)
