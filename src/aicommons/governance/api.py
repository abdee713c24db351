"""The governance API: contributions, dues, delegates, the constitution, motions, ballots and tallies.

Everything the council decides is public to read; drafts are the operators' until notice is given.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response, status
from starlette.concurrency import run_in_threadpool

from aicommons.deps import DB, CurrentPrincipal, Viewer
from aicommons.errors import Conflict, NotFound, invalid_field
from aicommons.governance import agenda, council, policy, rules, service
from aicommons.governance.models import MotionStatus
from aicommons.governance.schemas import (
    ArrearsOut,
    BallotIn,
    BallotOut,
    ConstitutionOut,
    DelegateOut,
    DuesIn,
    DuesYearOut,
    EconomicFigureIn,
    EconomicFigureOut,
    MotionIn,
    MotionOut,
    MotionPatch,
    NoticeIn,
    OpenVotingIn,
    RollCallLine,
    RollCallOut,
    ScaleIn,
    ScaleOut,
)
from aicommons.identity import accounts

router = APIRouter(prefix="/api/v1")
Year = Annotated[int, Path(ge=1950, le=2100)]
# No control characters: a name is echoed in headers and in the ledger.
Filename = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]




# --- contributions -------------------------------------------------------------------------------


@router.get("/economic-figures", tags=["contributions"], response_model=list[EconomicFigureOut])
def list_economic_figures(db: DB):
    return [EconomicFigureOut.of(f) for figures in service.figures_by_state(db).values() for f in figures]


@router.post("/economic-figures", tags=["contributions"], response_model=EconomicFigureOut,
             status_code=status.HTTP_201_CREATED)
def record_economic_figure(db: DB, principal: CurrentPrincipal, body: EconomicFigureIn):
    policy.can_run_council(principal)
    figure = service.record_economic_figure(db, actor=principal, member_state_code=body.member_state, year=body.year,
                                            nni_million_eur=body.nni_million_eur,
                                            gdp_million_eur=body.gdp_million_eur, source=body.source)
    return EconomicFigureOut.of(figure)


def _fraction(value: str | None, name: str) -> Fraction | None:
    if value is None:
        return None
    try:
        return rules.fraction(value, name)
    except rules.RuleError as exc:
        raise invalid_field(("body", name), str(exc)) from exc


@router.post("/contribution-scales", tags=["contributions"], response_model=ScaleOut,
             status_code=status.HTTP_201_CREATED)
def compute_scale(db: DB, principal: CurrentPrincipal, body: ScaleIn, response: Response):
    policy.can_run_council(principal)
    scale = service.compute_scale(db, actor=principal, years=tuple(body.years),
                                  ceiling=_fraction(body.ceiling, "ceiling"), floor=_fraction(body.floor, "floor"),
                                  associate_minimum=_fraction(body.associate_minimum, "associate_minimum"))
    response.headers["Location"] = f"/api/v1/contribution-scales/{scale.id}"
    return ScaleOut.of(scale)


@router.get("/contribution-scales", tags=["contributions"], response_model=list[ScaleOut])
def list_scales(db: DB):
    return [ScaleOut.of(s) for s in service.list_scales(db)]


@router.get("/contribution-scales/current", tags=["contributions"], response_model=ScaleOut,
            responses={404: {"description": "No scale has been adopted yet."}})
def current_scale(db: DB):
    scale = service.scale_in_force(db)
    if scale is None:
        raise NotFound("the council has not adopted a contribution scale yet")
    return ScaleOut.of(scale)


@router.get("/contribution-scales/{scale_id}", tags=["contributions"], response_model=ScaleOut)
def get_scale(db: DB, scale_id: int):
    return ScaleOut.of(service.get_scale(db, scale_id))


@router.get("/dues", tags=["contributions"], response_model=list[ArrearsOut])
def list_dues(db: DB):
    out = []
    for summary in service.dues_summaries(db).values():
        out.append(ArrearsOut(
            member_state=summary.member_state, arrears_eur=summary.arrears_eur,
            due_current_and_previous_year_eur=summary.due_recent_eur,
            loses_vote=summary.arrears_eur > summary.due_recent_eur and not summary.waived, waived=summary.waived,
            years=[DuesYearOut(year=r.year, due_eur=r.due_eur, paid_eur=r.paid_eur,
                               vote_waived_by_motion=r.vote_waiver_motion_id) for r in summary.years]))
    return out


@router.put("/member-states/{code}/dues/{year}", tags=["contributions"], response_model=DuesYearOut)
def record_dues(db: DB, principal: CurrentPrincipal, code: str, year: Year, body: DuesIn):
    policy.can_run_council(principal)
    row = service.record_dues(db, actor=principal, member_state_code=code, year=year, due_eur=body.due_eur,
                              paid_eur=body.paid_eur)
    return DuesYearOut(year=row.year, due_eur=row.due_eur, paid_eur=row.paid_eur,
                       vote_waived_by_motion=row.vote_waiver_motion_id)


# --- council -------------------------------------------------------------------------------------


@router.get("/delegates", tags=["council"], response_model=list[DelegateOut])
def list_delegates(db: DB):
    return [DelegateOut(member_state=g.member_state_code or "", person_id=p.id, display_name=p.display_name,
                        since=g.granted_at) for g, p in accounts.list_delegates(db)]


@router.get("/constitution", tags=["council"], response_model=ConstitutionOut)
def get_constitution(db: DB):
    return ConstitutionOut.of(agenda.constitution(db))


@router.get("/constitution/versions", tags=["council"], response_model=list[ConstitutionOut])
def constitution_versions(db: DB):
    return [ConstitutionOut.of(c) for c in agenda.constitution_history(db)]


@router.get("/motions", tags=["motions"], response_model=list[MotionOut])
def list_motions(db: DB, principal: Viewer, status: MotionStatus | None = None):
    return [MotionOut.of(m) for m in agenda.list_motions(db, viewer=principal, status=status)]


@router.post("/motions", tags=["motions"], response_model=MotionOut, status_code=status.HTTP_201_CREATED)
def draft_motion(db: DB, principal: CurrentPrincipal, body: MotionIn, response: Response):
    policy.can_run_council(principal)
    motion = agenda.draft_motion(db, actor=principal, kind=body.kind, title=body.title, text=body.text,
                                  payload=body.payload, participants=body.participants)
    response.headers["Location"] = f"/api/v1/motions/{motion.id}"
    return MotionOut.of(motion)


@router.get("/motions/{motion_id}", tags=["motions"], response_model=MotionOut)
def get_motion(db: DB, principal: Viewer, motion_id: int):
    return MotionOut.of(agenda.get_motion(db, motion_id, viewer=principal))


@router.patch("/motions/{motion_id}", tags=["motions"], response_model=MotionOut)
def edit_motion(db: DB, principal: CurrentPrincipal, motion_id: int, body: MotionPatch):
    policy.can_run_council(principal)
    motion = agenda.edit_motion(db, motion_id=motion_id, actor=principal, title=body.title, text=body.text,
                                 payload=body.payload, participants=body.participants)
    return MotionOut.of(motion)


@router.put("/motions/{motion_id}/attachments/{filename}", tags=["motions"], response_model=MotionOut,
            openapi_extra={"requestBody": {"content": {"application/octet-stream": {}}, "required": True}})
async def put_attachment(request: Request, motion_id: int, filename: Filename, db: DB,
                         principal: CurrentPrincipal):
    """Attach a document (the request body, up to 5 MiB) to a motion before voting opens."""
    policy.can_run_council(principal)
    content = await request.body()
    media_type = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip()

    def work() -> MotionOut:
        agenda.add_attachment(db, motion_id=motion_id, filename=filename, media_type=media_type, content=content,
                               actor=principal)
        return MotionOut.of(agenda.get_motion(db, motion_id, viewer=principal))

    return await run_in_threadpool(work)


@router.get("/motions/{motion_id}/attachments/{filename}", tags=["motions"], response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def get_attachment(db: DB, principal: Viewer, motion_id: int, filename: Filename):
    motion = agenda.get_motion(db, motion_id, viewer=principal)
    for attachment in motion.attachments:
        if attachment.filename == filename:
            return Response(attachment.content, media_type=attachment.media_type,
                            headers={"ETag": f'"{attachment.sha256}"',
                                     "Content-Disposition": _content_disposition(attachment.filename)})
    raise NotFound(f"motion {motion_id} has no attachment named '{filename}'")


def _content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback name and the exact one (RFC 8187), so no file name can break the header."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.delete("/motions/{motion_id}/attachments/{filename}", tags=["motions"],
               status_code=status.HTTP_204_NO_CONTENT)
def delete_attachment(db: DB, principal: CurrentPrincipal, motion_id: int, filename: Filename):
    policy.can_run_council(principal)
    motion = agenda.get_motion(db, motion_id, viewer=principal)
    found = [a for a in motion.attachments if a.filename == filename]
    if not found:
        raise NotFound(f"motion {motion_id} has no attachment named '{filename}'")
    agenda.remove_attachment(db, motion_id=motion_id, attachment_id=found[0].id, actor=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/motions/{motion_id}/notice", tags=["motions"], response_model=MotionOut)
def give_notice(db: DB, principal: CurrentPrincipal, motion_id: int, body: NoticeIn | None = None):
    policy.can_run_council(principal)
    days = body.notice_days if body else None
    return MotionOut.of(council.give_notice(db, actor=principal, motion_id=motion_id, notice_days=days))


@router.post("/motions/{motion_id}/open-voting", tags=["motions"], response_model=MotionOut)
def open_voting(db: DB, principal: CurrentPrincipal, motion_id: int, body: OpenVotingIn | None = None):
    policy.can_run_council(principal)
    days = body.voting_days if body else 7
    return MotionOut.of(council.open_voting(db, actor=principal, motion_id=motion_id, voting_days=days))


@router.post("/motions/{motion_id}/close", tags=["motions"], response_model=MotionOut)
def close_voting(db: DB, principal: CurrentPrincipal, motion_id: int):
    policy.can_run_council(principal)
    return MotionOut.of(council.close_voting(db, actor=principal, motion_id=motion_id))


@router.post("/motions/{motion_id}/tally", tags=["motions"], response_model=MotionOut)
def tally_motion(db: DB, principal: CurrentPrincipal, motion_id: int):
    policy.can_run_council(principal)
    return MotionOut.of(council.tally_motion(db, actor=principal, motion_id=motion_id))


@router.post("/motions/{motion_id}/publish", tags=["motions"], response_model=MotionOut)
def publish_motion(db: DB, principal: CurrentPrincipal, motion_id: int):
    policy.can_run_council(principal)
    return MotionOut.of(council.publish_motion(db, actor=principal, motion_id=motion_id))


@router.post("/motions/{motion_id}/ballots", tags=["motions"], response_model=BallotOut,
             status_code=status.HTTP_201_CREATED)
def cast_ballot(db: DB, principal: CurrentPrincipal, motion_id: int, body: BallotIn):
    policy.can_vote(principal)
    ballot = council.cast_ballot(db, actor=principal, motion_id=motion_id, choice=body.choice,
                                 member_state_code=body.member_state, explanation=body.explanation)
    return BallotOut.of(ballot)


@router.get("/motions/{motion_id}/ballots", tags=["motions"], response_model=list[BallotOut])
def ballot_history(db: DB, principal: Viewer, motion_id: int):
    """Every ballot cast, replaced ones included (``counts`` false): the roll-call is public."""
    agenda.get_motion(db, motion_id, viewer=principal)
    return [BallotOut.of(b) for b in council.ballot_history(db, motion_id)]


@router.get("/motions/{motion_id}/roll-call", tags=["motions"], response_model=RollCallOut)
def roll_call(db: DB, principal: Viewer, motion_id: int):
    motion = agenda.get_motion(db, motion_id, viewer=principal)
    lines = [RollCallLine(member_state=line.state, eligible=line.eligible, weight=line.weight,
                          excluded_because=line.excluded_because,
                          choice=line.ballot.choice if line.ballot else None,
                          explanation=line.ballot.explanation if line.ballot else None,
                          cast_at=line.ballot.cast_at if line.ballot else None)
             for line in council.roll_call(db, motion)]
    return RollCallOut(motion=motion.id, status=motion.status, lines=lines)


@router.get("/motions/{motion_id}/tally", tags=["motions"])
def get_tally(db: DB, principal: Viewer, motion_id: int) -> dict:
    """The tally as recorded in the ledger: rule, electorate, weights, ballots, counts, workings, outcome."""
    motion = agenda.get_motion(db, motion_id, viewer=principal)
    if motion.tally is None:
        raise Conflict(f"motion {motion_id} is {motion.status.value} and has not been tallied yet")
    return {"motion": motion.id, "constitution_version": motion.constitution_version, **motion.tally}
