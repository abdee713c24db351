"""The council's vote: a motion from notice to published, roll-call ballots, tallies and their effects.

A motion moves through one state machine (drafting and editing are in ``agenda.py``)::

    draft ──notice──▶ notice ──open voting──▶ voting ──close──▶ closed ──tally──▶ tallied ──publish──▶ published

Any other move is a 409. What is voted on is fixed when voting opens: the text's digest, the attachments'
digests, the rule (from the constitution version in force), and the electorate with its weights. Each step
from notice on is a ledger entry, so the tally can be recomputed from the ledger alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from aicommons import clock
from aicommons.errors import Conflict, Forbidden, NotFound, invalid_field
from aicommons.governance import agenda, rules, service
from aicommons.governance.agenda import constitution, motion_urn, rule_for, text_digest
from aicommons.governance.models import Ballot, ConstitutionVersion, Motion, MotionStatus, ScaleStatus
from aicommons.governance.rules import Choice, MotionKind, Weighting
from aicommons.identity.models import MembershipStatus, MemberState, Role
from aicommons.identity.policy import Principal
from aicommons.identity.service import change_member_state, seat_council
from aicommons.ledger import service as ledger

MAX_VOTING_DAYS = 90


def _actor(principal: Principal | None) -> str | None:
    return ledger.urn("person", principal.person_id) if principal else None


# --- motions: the lifecycle ----------------------------------------------------------------------


def give_notice(session: Session, *, actor: Principal, motion_id: int, notice_days: int | None = None) -> Motion:
    """Publish a draft for the notice period the constitution requires before voting may open."""
    motion = agenda.load_for_update(session, motion_id)
    agenda.require_status(motion, MotionStatus.DRAFT, doing="giving notice")
    minimum = constitution(session).notice_days
    days = minimum if notice_days is None else notice_days
    if days < minimum:
        raise invalid_field(("body", "notice_days"), f"the constitution requires at least {minimum} days' notice")
    moment = clock.now()
    motion.status = MotionStatus.NOTICE
    motion.notice_given_at, motion.notice_ends_at = moment, moment + timedelta(days=days)
    motion.updated_at = moment
    session.flush()
    ledger.record(session, kind="governance.motion.noticed", subject=motion_urn(motion.id), actor=_actor(actor),
                  data={"kind": motion.kind.value, "title": motion.title, "text_sha256": text_digest(motion.text),
                        "payload": motion.payload, "participants": motion.participants,
                        "notice_ends_at": ledger.rfc3339(motion.notice_ends_at)})
    return motion


def open_voting(session: Session, *, actor: Principal, motion_id: int, voting_days: int = 7) -> Motion:
    """Fix the text, attachments, rule and electorate, and open the roll-call."""
    motion = agenda.load_for_update(session, motion_id)
    agenda.require_status(motion, MotionStatus.NOTICE, doing="opening the vote")
    moment = clock.now()
    assert motion.notice_ends_at is not None
    if moment < motion.notice_ends_at:
        raise Conflict(f"the notice period runs until {ledger.rfc3339(motion.notice_ends_at)}")
    if not 1 <= voting_days <= MAX_VOTING_DAYS:
        raise invalid_field(("body", "voting_days"), f"voting lasts from 1 to {MAX_VOTING_DAYS} days")
    if motion.kind is MotionKind.CONTRIBUTION_SCALE:
        scale = service.get_scale(session, motion.payload["scale_id"])
        if scale.status is not ScaleStatus.PROPOSED:
            raise Conflict(f"contribution scale {scale.id} is {scale.status.value.replace('_', ' ')}; "
                           "put a newly computed scale to the council instead")
    charter = constitution(session)
    rule = rule_for(charter, motion.kind)
    if rule.weighting is not Weighting.ONE_STATE_ONE_VOTE and service.scale_in_force(session) is None:
        raise Conflict("this rule weighs votes by contribution, but no contribution scale is in force")
    participants = frozenset(motion.participants or [])
    if rule.base is rules.Base.PROGRAMME_PARTICIPANTS and not participants:
        raise invalid_field(("body", "participants"), "this rule needs the programme's participating states")
    try:
        eligible, excluded = rules.electorate(service.standings(session), rule, participants)
    except rules.RuleError as exc:
        raise invalid_field(("body", exc.field), str(exc)) from exc
    motion.status = MotionStatus.VOTING
    motion.constitution_version = charter.version
    motion.rule = rule.to_dict()
    motion.electorate = {"eligible": {s: rules.exact_str(w) for s, w in eligible.items()}, "excluded": excluded}
    motion.text_digest = text_digest(motion.text)
    motion.voting_opened_at, motion.voting_closes_at = moment, moment + timedelta(days=voting_days)
    motion.updated_at = moment
    session.flush()
    ledger.record(session, kind="governance.motion.opened", subject=motion_urn(motion.id), actor=_actor(actor),
                  data={"kind": motion.kind.value, "title": motion.title, "text_sha256": motion.text_digest,
                        "attachments": [{"filename": a.filename, "sha256": a.sha256, "size": a.size}
                                        for a in motion.attachments],
                        "payload": motion.payload, "constitution_version": charter.version, "rule": motion.rule,
                        "rule_text": rules.describe(rule), "electorate": motion.electorate,
                        "participants": motion.participants,
                        "voting_closes_at": ledger.rfc3339(motion.voting_closes_at)})
    return motion


def cast_ballot(session: Session, *, actor: Principal, motion_id: int, choice: Choice,
                member_state_code: str | None = None, explanation: str | None = None) -> Ballot:
    """A delegate's roll-call ballot for their state; a later ballot replaces an earlier one."""
    states = actor.delegate_of()
    if not states:
        raise Forbidden("only a delegate of a member state may vote")
    if actor.has_role(Role.OPERATOR):
        # The secretariat runs the vote (closes, counts, publishes); it must not also cast one.
        raise Forbidden("an operator runs the council's votes and cannot also vote; give up one of the roles")
    code = (member_state_code or (next(iter(states)) if len(states) == 1 else "")).upper()
    if code not in states:
        raise Forbidden(f"you are a delegate of {', '.join(sorted(states))}, not of {code or 'that state'}")
    motion = agenda.load_for_update(session, motion_id)
    if motion.status is MotionStatus.DRAFT:
        raise NotFound(f"no motion {motion_id}")
    agenda.require_status(motion, MotionStatus.VOTING, doing="voting")
    moment = clock.now()
    assert motion.voting_closes_at is not None and motion.electorate is not None
    if moment >= motion.voting_closes_at:
        raise Conflict(f"voting on motion {motion_id} closed at {ledger.rfc3339(motion.voting_closes_at)}")
    if code not in motion.electorate["eligible"]:
        reason = motion.electorate["excluded"].get(code, "it is not in this motion's electorate")
        raise Forbidden(f"{code} has no vote on this motion: {reason}")
    explanation = (explanation or "").strip() or None
    for earlier in session.scalars(select(Ballot).where(Ballot.motion_id == motion_id,
                                                        Ballot.member_state_code == code,
                                                        Ballot.superseded.is_(False))):
        earlier.superseded = True
    ballot = Ballot(motion_id=motion_id, member_state_code=code, choice=choice, explanation=explanation,
                    cast_by_id=actor.person_id, cast_at=moment, superseded=False)
    session.add(ballot)
    session.flush()
    ledger.record(session, kind="governance.ballot.cast", subject=motion_urn(motion_id), actor=_actor(actor),
                  data={"member_state": code, "choice": choice.value, "explanation": explanation,
                        "ballot": ballot.id})
    return ballot


def final_ballots(session: Session, motion_id: int) -> dict[str, Ballot]:
    """The ballot that counts for each state: its last one."""
    out: dict[str, Ballot] = {}
    for ballot in session.scalars(select(Ballot).where(Ballot.motion_id == motion_id).order_by(Ballot.id)):
        out[ballot.member_state_code] = ballot
    return out


def ballot_history(session: Session, motion_id: int) -> list[Ballot]:
    return list(session.scalars(select(Ballot).where(Ballot.motion_id == motion_id).order_by(Ballot.id)))


def close_voting(session: Session, *, actor: Principal, motion_id: int) -> Motion:
    """Close the roll-call: at its closing time, or earlier once every eligible state has voted."""
    motion = agenda.load_for_update(session, motion_id)
    agenda.require_status(motion, MotionStatus.VOTING, doing="closing the vote")
    moment = clock.now()
    assert motion.voting_closes_at is not None and motion.electorate is not None
    voted = set(final_ballots(session, motion_id))
    missing = sorted(set(motion.electorate["eligible"]) - voted)
    if moment < motion.voting_closes_at and missing:
        raise Conflict(f"voting is open until {ledger.rfc3339(motion.voting_closes_at)} and "
                       f"{', '.join(missing)} ha{'s' if len(missing) == 1 else 've'} not voted yet")
    motion.status = MotionStatus.CLOSED
    motion.closed_at = min(moment, motion.voting_closes_at)
    motion.updated_at = moment
    session.flush()
    ledger.record(session, kind="governance.motion.closed", subject=motion_urn(motion.id), actor=_actor(actor),
                  data={"closed_at": ledger.rfc3339(motion.closed_at), "states_voted": len(voted)})
    return motion


def compute_tally(motion: Motion, ballots: dict[str, Ballot]) -> rules.Tally:
    assert motion.rule is not None and motion.electorate is not None
    eligible = {s: Fraction(w) for s, w in motion.electorate["eligible"].items()}
    return rules.tally(rules.Rule.from_dict(motion.rule), eligible, {s: b.choice for s, b in ballots.items()})


def tally_motion(session: Session, *, actor: Principal, motion_id: int) -> Motion:
    """Count the final ballots under the rule fixed at opening and record the result."""
    motion = agenda.load_for_update(session, motion_id)
    agenda.require_status(motion, MotionStatus.CLOSED, doing="tallying")
    result = compute_tally(motion, final_ballots(session, motion_id))
    motion.status = MotionStatus.TALLIED
    motion.tally = result.to_dict()
    motion.outcome = result.outcome.value
    motion.tallied_at = motion.updated_at = clock.now()
    session.flush()
    ledger.record(session, kind="governance.motion.tallied", subject=motion_urn(motion.id), actor=_actor(actor),
                  data={"constitution_version": motion.constitution_version, **motion.tally})
    return motion


def publish_motion(session: Session, *, actor: Principal, motion_id: int) -> Motion:
    """Publish the decision and, when it passed, make it take effect."""
    # Publishing changes facility-wide state (the scale in force, the constitution version): one at a time.
    session.scalar(select(ConstitutionVersion).order_by(ConstitutionVersion.version.desc()).limit(1)
                   .with_for_update())
    motion = agenda.load_for_update(session, motion_id)
    agenda.require_status(motion, MotionStatus.TALLIED, doing="publishing")
    passed = motion.outcome == rules.Outcome.PASSED.value
    effect = _take_effect(session, motion, actor) if passed else _after_rejection(session, motion)
    seat_council(session)
    motion.status = MotionStatus.PUBLISHED
    motion.published_at = motion.updated_at = clock.now()
    session.flush()
    ledger.record(session, kind="governance.motion.published", subject=motion_urn(motion.id), actor=_actor(actor),
                  data={"outcome": motion.outcome, "effect": effect})
    return motion


def _take_effect(session: Session, motion: Motion, actor: Principal) -> str | None:
    payload = motion.payload
    if motion.kind is MotionKind.CONSTITUTION_AMENDMENT:
        version = constitution(session).version + 1
        session.add(ConstitutionVersion(version=version, rules=payload["rules"], notice_days=payload["notice_days"],
                                        adopted_at=clock.now(), adopted_by_motion_id=motion.id))
        session.flush()
        ledger.record(session, kind="governance.constitution.amended", subject=ledger.urn("constitution", version),
                      actor=None, data={"version": version, "motion": motion.id, "rules": payload["rules"],
                                        "notice_days": payload["notice_days"]})
        return f"constitution version {version} in force"
    if motion.kind is MotionKind.ADMISSION:
        change_member_state(session, actor=actor, code=payload["member_state"],
                            status=MembershipStatus(payload["status"]), by_council=True)
        return f"{payload['member_state']} admitted as {payload['status'].replace('_', ' ')}"
    # A decision is always published; when another decision got there first, the record says so.
    if motion.kind is MotionKind.CONTRIBUTION_SCALE:
        scale = service.get_scale(session, payload["scale_id"])
        if scale.status is not ScaleStatus.PROPOSED:
            return f"none: contribution scale {scale.id} was already {scale.status.value.replace('_', ' ')}"
        service.put_scale_in_force(session, scale_id=scale.id, motion_id=motion.id)
        return f"contribution scale {payload['scale_id']} in force"
    if motion.kind in (MotionKind.CALL_APPROVAL, MotionKind.SLATE_APPROVAL):
        from aicommons.access import council_hooks  # access builds on governance; see agenda._check_payload

        return council_hooks.take_effect(session, motion, passed=True)
    if "waive_arrears" in payload:
        waiver = payload["waive_arrears"]
        try:
            service.waive_arrears(session, member_state_code=waiver["member_state"], year=waiver["year"],
                                  motion_id=motion.id)
        except NotFound as exc:
            return f"none: {exc}"
        return f"{waiver['member_state']} keeps its vote despite arrears up to {waiver['year']}"
    return None


def _after_rejection(session: Session, motion: Motion) -> str | None:
    """A call or slate the council turned down goes back to its operators."""
    if motion.kind in (MotionKind.CALL_APPROVAL, MotionKind.SLATE_APPROVAL):
        from aicommons.access import council_hooks

        return council_hooks.take_effect(session, motion, passed=False)
    return None


@dataclass(frozen=True)
class RollCallLine:
    state: str
    name: str
    eligible: bool
    weight: str | None
    excluded_because: str | None
    ballot: Ballot | None


def roll_call(session: Session, motion: Motion) -> list[RollCallLine]:
    """Each state in the electorate fixed at opening, with its counting ballot; empty before voting opens."""
    if motion.electorate is None:
        return []
    names = {code: name for code, name in session.execute(select(MemberState.code, MemberState.name))}
    ballots = final_ballots(session, motion.id)
    eligible, excluded = motion.electorate["eligible"], motion.electorate["excluded"]
    lines = [RollCallLine(code, names.get(code, code), True, weight, None, ballots.get(code))
             for code, weight in eligible.items()]
    lines += [RollCallLine(code, names.get(code, code), False, None, reason, None)
              for code, reason in excluded.items()]
    return sorted(lines, key=lambda line: (not line.eligible, line.state))
