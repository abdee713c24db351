"""The allocation slate: how many GPU-hours of each track's pool each ranked proposal gets. Pure, exact.

The inputs and the result are published as plain JSON (``to_dict``; fractions as exact strings such as
"7/2"), and anyone can recompute the result from the published inputs and compare digests. The result
carries the digest of the inputs it was computed from, and its own digest covers that.

Order. Proposals are taken in the order of the ``rank`` given in the inputs, 1 first. That rank is the
overall rank from ``ranking.rank`` (higher score, then higher excellence mean, smaller spread, earlier
submission, lower id); this module does not re-sort by score, so the published ranks alone fix the order.
It only checks that no proposal outscores one ranked above it.

Awards. A proposal is offered min(hours it still asks, hours its track has left, hours its state may still
receive) and gets them only if its total award then reaches the track's ``min_award_hours``: partial
awards are allowed down to that minimum. A proposal that cannot be funded is skipped and the walk goes on,
because a lower-ranked proposal may still fit (under share_aware, one from a state with room left).
Proposals marked not fundable never get hours. No track's pool is ever exceeded.

Policies.

- ``merit``: one pass over the fundable proposals in rank order, with no state limits. Tracks never share
  hours, so this is the same as walking each track on its own in rank order.
- ``share_aware``: let P be the sum of all track pools, t the tolerance and s a state's contribution share
  (0 for a state with none). Then

      cap(s)   = min(P, floor((s + t) x P))
      floor(s) = min(cap(s), ceil(max(0, s - t) x P))

  and a state never receives more than its cap. Pass 1 (floors) walks the fundable proposals in rank
  order and offers each proposal whose state is still below its floor the state's shortfall to the floor,
  raised to the track's minimum award if smaller (and limited as above). Pass 1 only lifts states to their
  floors; every hour beyond is merit's. Pass 2 (merit) walks the fundable proposals in rank order again and
  offers each what it still asks; a proposal partly awarded in pass 1 is topped up in its rank place.
  Floors are met whenever the requests allow it (for instance one track, minimum award 1, and each state
  asking at least its floor) but are not guaranteed: track pools, minimum awards and caps can leave a state
  short, and the result says so (``floor_met``). Pool left over because of caps is reported as unallocated,
  with the reason.

Reasons. ``reason`` is null when a proposal gets all it asked for; otherwise it says why not (for a partial
award, why not more): below funding threshold (not fundable), below minimum award (it asks for less than
the track's minimum), track pool exhausted, or state cap reached (whichever left fewer hours when its
turn came in the last pass; the track pool when they tie). Hours a track leaves over carry a reason too:
state cap reached (a proposal in the track was held back by its state's cap), remainder below minimum
award, or no fundable request left, in that order of precedence.

Tolerance. A state's allocated share is its hours over all hours awarded; it is within tolerance when that
share differs from its contribution share by at most t. Caps are measured against P, not against the
hours awarded, so when hours go unallocated a state can keep to its cap and still fall outside the band:
the result reports that rather than hiding it.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

import rfc8785

from aicommons.access.ranking import parse_fraction

# The largest integer that survives every JSON reader (RFC 8785 refuses larger ones).
MAX_HOURS = 2**53 - 1
_STATE = re.compile(r"[A-Z]{2}")


class SlateError(ValueError):
    """Inputs from which no slate can be computed; ``field`` names the part at fault, and so does the text."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class Policy(enum.StrEnum):
    MERIT = "merit"
    SHARE_AWARE = "share_aware"


class Reason(enum.StrEnum):
    BELOW_FUNDING_THRESHOLD = "below funding threshold"
    TRACK_POOL_EXHAUSTED = "track pool exhausted"
    STATE_CAP_REACHED = "state cap reached"
    BELOW_MINIMUM_AWARD = "below minimum award"


class Unallocated(enum.StrEnum):
    STATE_CAP_REACHED = "state cap reached"
    REMAINDER_BELOW_MINIMUM_AWARD = "remainder below minimum award"
    NO_FUNDABLE_REQUEST_LEFT = "no fundable request left"


def _whole(value: object, field_name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_HOURS:
        raise SlateError(field_name, f"must be a whole number from {minimum} to {MAX_HOURS}")
    return value


def _state(value: object, field_name: str) -> str:
    if not isinstance(value, str) or not _STATE.fullmatch(value):
        raise SlateError(field_name, f"'{value}' is not an ISO 3166-1 alpha-2 code such as DE")
    return value


@dataclass(frozen=True)
class Track:
    name: str
    pool_hours: int
    min_award_hours: int


@dataclass(frozen=True)
class SlateProposal:
    proposal_id: int
    track: str
    member_state: str
    requested_hours: int
    score: Fraction
    rank: int
    fundable: bool


@dataclass(frozen=True)
class SlateInputs:
    """Validated on construction; tracks are kept sorted by name and proposals by rank."""

    tracks: tuple[Track, ...]
    proposals: tuple[SlateProposal, ...]
    policy: Policy
    tolerance: Fraction
    shares: Mapping[str, Fraction]

    def __post_init__(self) -> None:
        if not isinstance(self.policy, str) or self.policy not in {p.value for p in Policy}:
            raise SlateError("policy", f"policy must be one of {', '.join(Policy)}, not '{self.policy}'")
        object.__setattr__(self, "policy", Policy(self.policy))
        if not self.tracks:
            raise SlateError("tracks", "a slate needs at least one track")
        for track in self.tracks:
            if not isinstance(track.name, str) or not track.name:
                raise SlateError("tracks", "every track needs a name")
            _whole(track.pool_hours, f"tracks.{track.name}.pool_hours", 0)
            _whole(track.min_award_hours, f"tracks.{track.name}.min_award_hours", 1)
        if len({t.name for t in self.tracks}) != len(self.tracks):
            raise SlateError("tracks", "track names must be different")
        if sum(t.pool_hours for t in self.tracks) > MAX_HOURS:
            raise SlateError("tracks", f"the pools add up to more than {MAX_HOURS} hours")
        if not isinstance(self.tolerance, Fraction) or not 0 <= self.tolerance <= 1:
            raise SlateError("tolerance", "tolerance must be an exact fraction from 0 to 1")
        for state, share in self.shares.items():
            _state(state, f"shares.{state}")
            if not isinstance(share, Fraction) or not 0 <= share <= 1:
                raise SlateError(f"shares.{state}", "a share must be an exact fraction from 0 to 1")
        if sum(self.shares.values(), Fraction(0)) > 1:
            raise SlateError("shares", "contribution shares add up to more than 1")
        object.__setattr__(self, "tracks", tuple(sorted(self.tracks, key=lambda t: t.name)))
        self._check_proposals()
        object.__setattr__(self, "proposals", tuple(sorted(self.proposals, key=lambda p: p.rank)))

    def _check_proposals(self) -> None:
        names = {t.name for t in self.tracks}
        ids: set[int] = set()
        ranks: set[int] = set()
        for i, p in enumerate(self.proposals):
            where = f"proposals[{i}]"
            if isinstance(p.proposal_id, bool) or not isinstance(p.proposal_id, int) or p.proposal_id in ids:
                raise SlateError(f"{where}.proposal_id", "proposal ids must be whole numbers, each used once")
            if p.track not in names:
                raise SlateError(f"{where}.track", f"'{p.track}' is not a track of this slate")
            _state(p.member_state, f"{where}.member_state")
            _whole(p.requested_hours, f"{where}.requested_hours", 1)
            if not isinstance(p.score, Fraction) or p.score < 0:
                raise SlateError(f"{where}.score", "score must be a non-negative exact fraction")
            if _whole(p.rank, f"{where}.rank", 1) in ranks:
                raise SlateError(f"{where}.rank", f"rank {p.rank} is given twice")
            if not isinstance(p.fundable, bool):
                raise SlateError(f"{where}.fundable", "fundable must be true or false")
            ids.add(p.proposal_id)
            ranks.add(p.rank)
        by_rank = sorted(self.proposals, key=lambda p: p.rank)
        for above, below in itertools.pairwise(by_rank):
            if below.score > above.score:
                raise SlateError("proposals.rank", f"rank {below.rank} outscores rank {above.rank}")

    def to_dict(self) -> dict:
        return {
            "policy": str(self.policy), "tolerance": str(self.tolerance),
            "tracks": {t.name: {"pool_hours": t.pool_hours, "min_award_hours": t.min_award_hours}
                       for t in self.tracks},
            "shares": {state: str(share) for state, share in sorted(self.shares.items())},
            "proposals": [{"proposal_id": p.proposal_id, "track": p.track, "member_state": p.member_state,
                           "requested_hours": p.requested_hours, "score": str(p.score), "rank": p.rank,
                           "fundable": p.fundable} for p in self.proposals],
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> SlateInputs:
        for key in ("policy", "tolerance", "tracks", "proposals"):
            if key not in data:
                raise SlateError(key, "is missing")
        tracks = data["tracks"]
        if not isinstance(tracks, Mapping):
            raise SlateError("tracks", "tracks must map each track name to its pool_hours and min_award_hours")
        shares = data.get("shares", {})
        if not isinstance(shares, Mapping):
            raise SlateError("shares", "shares must map each state's code to its contribution share")
        proposals = data["proposals"]
        if not isinstance(proposals, list):
            raise SlateError("proposals", "proposals must be a list of objects")
        return cls(
            tracks=tuple(Track(name, **_fields(t, ("pool_hours", "min_award_hours"), f"tracks.{name}"))
                         for name, t in tracks.items()),
            proposals=tuple(_proposal(p, f"proposals[{i}]") for i, p in enumerate(proposals)),
            policy=data["policy"],
            tolerance=_fraction(data["tolerance"], "tolerance"),
            shares={state: _fraction(share, f"shares.{state}") for state, share in shares.items()},
        )


def _fields(data: object, keys: tuple[str, ...], where: str) -> dict:
    if not isinstance(data, Mapping):
        raise SlateError(where, "must be an object")
    for key in keys:
        if key not in data:
            raise SlateError(f"{where}.{key}", "is missing")
    return {key: data[key] for key in keys}


def _proposal(data: object, where: str) -> SlateProposal:
    keys = ("proposal_id", "track", "member_state", "requested_hours", "score", "rank", "fundable")
    values = _fields(data, keys, where)
    return SlateProposal(**values | {"score": _fraction(values["score"], f"{where}.score")})


def _fraction(value: object, field_name: str) -> Fraction:
    return parse_fraction(value, field_name, SlateError)


def state_limits(share: Fraction, tolerance: Fraction, total_pool_hours: int) -> tuple[int, int]:
    """(floor, cap) in hours for a state with this contribution share; see the module docstring."""
    cap = min(total_pool_hours, math.floor((share + tolerance) * total_pool_hours))
    return min(cap, math.ceil(max(Fraction(0), share - tolerance) * total_pool_hours)), cap


def digest_of(body: Mapping) -> str:
    """SHA-256, in hex, of the RFC 8785 canonical JSON of ``body``."""
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def six_decimals(value: Fraction) -> str:
    """A non-negative fraction rounded half-to-even to six decimals, e.g. "0.333333"."""
    millionths = round(value * 10**6)
    return f"{millionths // 10**6}.{millionths % 10**6:06d}"


@dataclass(frozen=True)
class Award:
    proposal_id: int
    track: str
    member_state: str
    rank: int
    requested_hours: int
    awarded_hours: int
    reason: Reason | None  # None exactly when the proposal gets all it asked for

    @property
    def partial(self) -> bool:
        return 0 < self.awarded_hours < self.requested_hours


@dataclass(frozen=True)
class TrackOutcome:
    track: str
    pool_hours: int
    min_award_hours: int
    awarded_hours: int
    unallocated_hours: int
    unallocated_reason: Unallocated | None  # None exactly when nothing is left over


@dataclass(frozen=True)
class StateOutcome:
    state: str
    contribution_share: Fraction
    floor_hours: int  # enforced under share_aware only; shown under merit for comparison
    cap_hours: int
    allocated_hours: int
    allocated_share: Fraction  # of all hours awarded; 0 when nothing is awarded
    within_tolerance: bool
    floor_met: bool


@dataclass(frozen=True)
class SlateResult:
    policy: Policy
    tolerance: Fraction
    inputs_digest: str
    awards: tuple[Award, ...]  # by rank
    tracks: tuple[TrackOutcome, ...]  # by name
    states: tuple[StateOutcome, ...]  # by code
    pool_hours: int
    awarded_hours: int

    @property
    def unallocated_hours(self) -> int:
        return self.pool_hours - self.awarded_hours

    @property
    def digest(self) -> str:
        return digest_of(self._body())

    def _body(self) -> dict:
        return {
            "policy": str(self.policy), "tolerance": str(self.tolerance), "inputs_digest": self.inputs_digest,
            "awards": [{"proposal_id": a.proposal_id, "track": a.track, "member_state": a.member_state,
                        "rank": a.rank, "requested_hours": a.requested_hours, "awarded_hours": a.awarded_hours,
                        "partial": a.partial, "reason": _opt(a.reason)} for a in self.awards],
            "tracks": [{"track": t.track, "pool_hours": t.pool_hours, "min_award_hours": t.min_award_hours,
                        "awarded_hours": t.awarded_hours, "unallocated_hours": t.unallocated_hours,
                        "unallocated_reason": _opt(t.unallocated_reason)} for t in self.tracks],
            "states": [{"state": s.state, "contribution_share": str(s.contribution_share),
                        "floor_hours": s.floor_hours, "cap_hours": s.cap_hours, "allocated_hours": s.allocated_hours,
                        "allocated_share": str(s.allocated_share),
                        "allocated_share_decimal": six_decimals(s.allocated_share),
                        "within_tolerance": s.within_tolerance, "floor_met": s.floor_met} for s in self.states],
            "total": {"pool_hours": self.pool_hours, "awarded_hours": self.awarded_hours,
                      "unallocated_hours": self.unallocated_hours},
        }

    def to_dict(self) -> dict:
        """The published result: every field above, plus ``digest`` over all of them."""
        body = self._body()
        return {**body, "digest": digest_of(body)}

    @classmethod
    def from_dict(cls, data: Mapping) -> SlateResult:
        """Read a published result back, refusing one whose digest does not match its content."""
        try:
            result = cls(
                Policy(data["policy"]), _fraction(data["tolerance"], "tolerance"), data["inputs_digest"],
                tuple(Award(a["proposal_id"], a["track"], a["member_state"], a["rank"], a["requested_hours"],
                            a["awarded_hours"], None if a["reason"] is None else Reason(a["reason"]))
                      for a in data["awards"]),
                tuple(TrackOutcome(t["track"], t["pool_hours"], t["min_award_hours"], t["awarded_hours"],
                                   t["unallocated_hours"],
                                   None if t["unallocated_reason"] is None else Unallocated(t["unallocated_reason"]))
                      for t in data["tracks"]),
                tuple(StateOutcome(s["state"], _fraction(s["contribution_share"], "contribution_share"),
                                   s["floor_hours"], s["cap_hours"], s["allocated_hours"],
                                   _fraction(s["allocated_share"], "allocated_share"), s["within_tolerance"],
                                   s["floor_met"]) for s in data["states"]),
                data["total"]["pool_hours"], data["total"]["awarded_hours"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SlateError("result", f"not a slate result: {exc}") from exc
        if result.to_dict() != dict(data):
            raise SlateError("digest", "the result does not match its digest")
        return result


def _opt(value: enum.StrEnum | None) -> str | None:
    return None if value is None else str(value)


def compute_slate(inputs: SlateInputs) -> SlateResult:
    """Award each ranked proposal its GPU-hours under the inputs' policy (see the module docstring)."""
    tracks = {t.name: t for t in inputs.tracks}
    pool = sum(t.pool_hours for t in inputs.tracks)
    states = sorted(set(inputs.shares) | {p.member_state for p in inputs.proposals})
    shares = {s: inputs.shares.get(s, Fraction(0)) for s in states}
    limits = {s: state_limits(shares[s], inputs.tolerance, pool) for s in states}
    capped = inputs.policy is Policy.SHARE_AWARE
    track_left = {t.name: t.pool_hours for t in inputs.tracks}
    state_hours: dict[str, int] = defaultdict(int)
    given: dict[int, int] = defaultdict(int)
    reasons: dict[int, Reason] = {}

    def offer(p: SlateProposal, wanted: int) -> None:
        minimum = tracks[p.track].min_award_hours
        asked = min(wanted, p.requested_hours - given[p.proposal_id])
        if asked <= 0:
            return
        room = limits[p.member_state][1] - state_hours[p.member_state] if capped else pool
        amount = min(asked, track_left[p.track], room)
        if amount < asked:
            reasons[p.proposal_id] = (Reason.TRACK_POOL_EXHAUSTED if track_left[p.track] <= room
                                      else Reason.STATE_CAP_REACHED)
        else:
            reasons.pop(p.proposal_id, None)
        if amount > 0 and given[p.proposal_id] + amount >= minimum:
            given[p.proposal_id] += amount
            track_left[p.track] -= amount
            state_hours[p.member_state] += amount

    eligible = []
    for p in inputs.proposals:
        if not p.fundable:
            reasons[p.proposal_id] = Reason.BELOW_FUNDING_THRESHOLD
        elif p.requested_hours < tracks[p.track].min_award_hours:
            reasons[p.proposal_id] = Reason.BELOW_MINIMUM_AWARD
        else:
            eligible.append(p)
    if capped:
        for p in eligible:
            shortfall = limits[p.member_state][0] - state_hours[p.member_state]
            if shortfall > 0:
                offer(p, max(shortfall, tracks[p.track].min_award_hours))
    for p in eligible:
        offer(p, p.requested_hours)

    awards = tuple(Award(p.proposal_id, p.track, p.member_state, p.rank, p.requested_hours, given[p.proposal_id],
                         reasons.get(p.proposal_id)) for p in inputs.proposals)
    awarded = sum(given.values())
    return SlateResult(
        inputs.policy, inputs.tolerance, digest_of(inputs.to_dict()), awards,
        tuple(_track_outcome(t, [a for a in awards if a.track == t.name]) for t in inputs.tracks),
        tuple(_state_outcome(s, shares[s], limits[s], state_hours[s], awarded, inputs.tolerance) for s in states),
        pool, awarded)


def _track_outcome(track: Track, awards: list[Award]) -> TrackOutcome:
    awarded = sum(a.awarded_hours for a in awards)
    left = track.pool_hours - awarded
    why = {a.reason for a in awards}
    if left == 0:
        reason = None
    elif Reason.STATE_CAP_REACHED in why:
        reason = Unallocated.STATE_CAP_REACHED
    elif Reason.TRACK_POOL_EXHAUSTED in why:
        reason = Unallocated.REMAINDER_BELOW_MINIMUM_AWARD
    else:
        reason = Unallocated.NO_FUNDABLE_REQUEST_LEFT
    return TrackOutcome(track.name, track.pool_hours, track.min_award_hours, awarded, left, reason)


def _state_outcome(state: str, share: Fraction, limits: tuple[int, int], hours: int, awarded: int,
                   tolerance: Fraction) -> StateOutcome:
    allocated_share = Fraction(hours, awarded) if awarded else Fraction(0)
    floor, cap = limits
    return StateOutcome(state, share, floor, cap, hours, allocated_share,
                        abs(allocated_share - share) <= tolerance, hours >= floor)
