"""The allocation slate (access/slate.py): pools, merit order, state caps and floors, reproducible JSON."""

from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from aicommons.access.ranking import rank, score_entry
from aicommons.access.slate import (
    Policy,
    Reason,
    SlateError,
    SlateInputs,
    SlateResult,
    Unallocated,
    compute_slate,
    six_decimals,
    state_limits,
)

STATES = ("DE", "FR", "IT", "PL")


def proposal(proposal_id, track, state, requested, rank_, score="4", fundable=True):
    return {"proposal_id": proposal_id, "track": track, "member_state": state, "requested_hours": requested,
            "score": score, "rank": rank_, "fundable": fundable}


def example(policy="share_aware", **overrides):
    data = {
        "policy": policy, "tolerance": "1/20",
        "tracks": {"foundation": {"pool_hours": 1000, "min_award_hours": 50},
                   "sme": {"pool_hours": 300, "min_award_hours": 20}},
        "shares": {"DE": "0.4", "FR": "0.35", "IT": "0.25"},
        "proposals": [proposal(1, "foundation", "DE", 800, 1, "9/2"), proposal(2, "foundation", "DE", 400, 2),
                      proposal(3, "foundation", "IT", 200, 3, "7/2"), proposal(4, "sme", "FR", 200, 4, "7/2"),
                      proposal(5, "sme", "PL", 200, 5, "2", fundable=False)],
    }
    return data | overrides


@st.composite
def slate_inputs(draw, policies=("merit", "share_aware")):
    names = draw(st.lists(st.sampled_from(["foundation", "sme", "public"]), min_size=1, max_size=3, unique=True))
    tracks = {n: {"pool_hours": draw(st.integers(0, 2000)), "min_award_hours": draw(st.integers(1, 120))}
              for n in names}
    sharing = draw(st.lists(st.sampled_from(STATES), unique=True, max_size=len(STATES)))
    weights = [draw(st.integers(1, 100)) for _ in sharing]
    whole = sum(weights) + draw(st.integers(0, 40))  # shares may add up to less than 1
    shares = {s: str(Fraction(w, whole)) for s, w in zip(sharing, weights, strict=True)}
    count = draw(st.integers(0, 16))
    quarters = sorted((draw(st.integers(4, 20)) for _ in range(count)), reverse=True)
    ids = draw(st.permutations(range(1, count + 1)))
    proposals = [proposal(ids[i], draw(st.sampled_from(names)), draw(st.sampled_from((*STATES, "ES"))),
                          draw(st.integers(1, 900)), i + 1, str(Fraction(q, 4)), Fraction(q, 4) >= 3)
                 for i, q in enumerate(quarters)]
    return SlateInputs.from_dict({"policy": draw(st.sampled_from(policies)),
                                  "tolerance": str(Fraction(draw(st.integers(0, 25)), 100)),
                                  "tracks": tracks, "shares": shares, "proposals": proposals})


def by_id(result: SlateResult):
    return {a.proposal_id: a for a in result.awards}


def test_merit_walks_each_track_in_rank_order_with_a_partial_award_at_the_end():
    result = compute_slate(SlateInputs.from_dict(example("merit")))
    awarded = {a.proposal_id: (a.awarded_hours, a.partial, a.reason) for a in result.awards}
    assert awarded == {1: (800, False, None), 2: (200, True, Reason.TRACK_POOL_EXHAUSTED),
                       3: (0, False, Reason.TRACK_POOL_EXHAUSTED), 4: (200, False, None),
                       5: (0, False, Reason.BELOW_FUNDING_THRESHOLD)}
    sme = next(t for t in result.tracks if t.track == "sme")
    assert (sme.unallocated_hours, sme.unallocated_reason) == (100, Unallocated.NO_FUNDABLE_REQUEST_LEFT)


def test_share_aware_caps_a_state_and_reports_the_hours_left_over():
    result = compute_slate(SlateInputs.from_dict(example()))
    # P = 1300; DE's cap is floor(0.45 x 1300) = 585 hours, so DE's second proposal gets nothing and IT's fits.
    awarded = {a.proposal_id: (a.awarded_hours, a.reason) for a in result.awards}
    assert awarded == {1: (585, Reason.STATE_CAP_REACHED), 2: (0, Reason.STATE_CAP_REACHED), 3: (200, None),
                       4: (200, None), 5: (0, Reason.BELOW_FUNDING_THRESHOLD)}
    foundation = next(t for t in result.tracks if t.track == "foundation")
    assert (foundation.unallocated_hours, foundation.unallocated_reason) == (215, Unallocated.STATE_CAP_REACHED)
    de = next(s for s in result.states if s.state == "DE")
    assert (de.floor_hours, de.cap_hours, de.allocated_hours) == (455, 585, 585)
    assert de.allocated_share == Fraction(117, 197) and not de.within_tolerance, "caps count P, not hours awarded"
    pl = next(s for s in result.states if s.state == "PL")
    assert pl.contribution_share == 0 and pl.cap_hours == 65, "a state without a share may get the tolerance"
    assert (result.pool_hours, result.awarded_hours, result.unallocated_hours) == (1300, 985, 315)


def test_the_floor_pass_lifts_a_state_ahead_of_merit_only_up_to_its_floor():
    data = {"policy": "share_aware", "tolerance": "1/10", "shares": {"DE": "1/2", "FR": "1/2"},
            "tracks": {"t": {"pool_hours": 100, "min_award_hours": 5}},
            "proposals": [proposal(1, "t", "DE", 100, 1, "5"), proposal(2, "t", "FR", 100, 2, "4")]}
    awarded = {a.proposal_id: a.awarded_hours for a in compute_slate(SlateInputs.from_dict(data)).awards}
    # Floors 40 each; pass 2 tops DE up to its cap of 60, and FR keeps what is left.
    assert awarded == {1: 60, 2: 40}
    data["policy"] = "merit"
    assert [a.awarded_hours for a in compute_slate(SlateInputs.from_dict(data)).awards] == [100, 0]


def test_a_request_below_the_minimum_is_skipped_and_the_walk_goes_on():
    data = {"policy": "merit", "tolerance": "0", "shares": {},
            "tracks": {"t": {"pool_hours": 100, "min_award_hours": 30}},
            "proposals": [proposal(1, "t", "DE", 20, 1), proposal(2, "t", "FR", 70, 2), proposal(3, "t", "IT", 50, 3)]}
    result = compute_slate(SlateInputs.from_dict(data))
    assert [(a.awarded_hours, a.reason) for a in result.awards] == [
        (0, Reason.BELOW_MINIMUM_AWARD), (70, None), (30, Reason.TRACK_POOL_EXHAUSTED)]


@given(slate_inputs())
def test_pools_are_never_exceeded_and_awards_respect_requests_and_minimums(inputs):
    result = compute_slate(inputs)
    tracks = {t.name: t for t in inputs.tracks}
    for outcome in result.tracks:
        assert outcome.awarded_hours == sum(a.awarded_hours for a in result.awards if a.track == outcome.track)
        assert 0 <= outcome.awarded_hours <= outcome.pool_hours
        assert outcome.unallocated_hours == outcome.pool_hours - outcome.awarded_hours
        assert (outcome.unallocated_reason is None) == (outcome.unallocated_hours == 0)
    for award in result.awards:
        assert award.awarded_hours == 0 or tracks[award.track].min_award_hours <= award.awarded_hours
        assert award.awarded_hours <= award.requested_hours
        assert (award.reason is None) == (award.awarded_hours == award.requested_hours)


@given(slate_inputs())
def test_non_fundable_proposals_are_never_awarded(inputs):
    fundable = {p.proposal_id: p.fundable for p in inputs.proposals}
    for award in compute_slate(inputs).awards:
        if not fundable[award.proposal_id]:
            assert award.awarded_hours == 0 and award.reason is Reason.BELOW_FUNDING_THRESHOLD


@given(slate_inputs(policies=("merit",)))
def test_merit_never_funds_a_proposal_below_one_that_would_have_fit(inputs):
    """Merit order, precisely: let u be a fundable proposal asking at least its track's minimum award (so it
    would fit in the hours its track had) that got less than it asked. Then no proposal of that track ranked
    below u gets any hours, and fewer hours than the minimum award are left in the track."""
    result = compute_slate(inputs)
    tracks = {t.name: t for t in inputs.tracks}
    left = {t.track: t.unallocated_hours for t in result.tracks}
    fundable = {p.proposal_id: p.fundable for p in inputs.proposals}
    for u in result.awards:
        minimum = tracks[u.track].min_award_hours
        if fundable[u.proposal_id] and u.requested_hours >= minimum and u.awarded_hours < u.requested_hours:
            assert all(a.awarded_hours == 0 for a in result.awards if a.track == u.track and a.rank > u.rank)
            assert left[u.track] < minimum


@given(slate_inputs(policies=("merit",)))
def test_merit_is_a_plain_walk_of_each_track(inputs):
    expected = {}
    for track in inputs.tracks:
        left = track.pool_hours
        for p in (p for p in inputs.proposals if p.track == track.name):  # proposals come sorted by rank
            amount = min(p.requested_hours, left) if p.fundable else 0
            amount = amount if amount >= track.min_award_hours else 0
            expected[p.proposal_id], left = amount, left - amount
    assert {a.proposal_id: a.awarded_hours for a in compute_slate(inputs).awards} == expected


@given(slate_inputs(policies=("share_aware",)))
def test_share_aware_never_exceeds_a_state_cap(inputs):
    result = compute_slate(inputs)
    pool = sum(t.pool_hours for t in inputs.tracks)
    for state in result.states:
        share = inputs.shares.get(state.state, Fraction(0))
        assert state.cap_hours == min(pool, math.floor((share + inputs.tolerance) * pool))
        assert state.allocated_hours <= state.cap_hours
        assert state.allocated_hours == sum(a.awarded_hours for a in result.awards if a.member_state == state.state)


@given(st.data())
def test_share_aware_meets_every_floor_when_the_requests_allow_it(data):
    """Feasible: one track, minimum award 1, each state asks at least its floor, the floors fit in the pool."""
    pool = data.draw(st.integers(1, 5000))
    tolerance = Fraction(data.draw(st.integers(0, 10)), 100)
    weights = data.draw(st.lists(st.integers(0, 50), min_size=len(STATES), max_size=len(STATES)))
    whole = sum(weights) + data.draw(st.integers(0, 20)) or 1
    shares = {s: Fraction(w, whole) for s, w in zip(STATES, weights, strict=True)}
    floors = {s: min(pool, math.floor((v + tolerance) * pool), math.ceil(max(0, v - tolerance) * pool))
              for s, v in shares.items()}
    assume(sum(floors.values()) <= pool)
    requests = []
    for state in STATES:
        parts = data.draw(st.lists(st.integers(1, max(1, floors[state])), min_size=1, max_size=4))
        parts += [floors[state] - sum(parts)] if sum(parts) < floors[state] else []
        requests += [(state, hours) for hours in parts]
    order = data.draw(st.permutations(requests))
    inputs = SlateInputs.from_dict({
        "policy": "share_aware", "tolerance": str(tolerance),
        "tracks": {"t": {"pool_hours": pool, "min_award_hours": 1}}, "shares": {s: str(v) for s, v in shares.items()},
        "proposals": [proposal(i, "t", state, hours, i) for i, (state, hours) in enumerate(order, start=1)]})
    for state in compute_slate(inputs).states:
        assert state.floor_hours == floors[state.state]
        assert state.allocated_hours >= state.floor_hours and state.floor_met


@given(slate_inputs())
def test_inputs_and_result_round_trip_through_plain_json_with_the_same_digest(inputs):
    published = json.loads(json.dumps(inputs.to_dict()))
    again = SlateInputs.from_dict(published)
    assert again == inputs and again.to_dict() == published
    result, recomputed = compute_slate(inputs), compute_slate(again)
    assert recomputed == result and recomputed.to_dict() == result.to_dict()
    assert recomputed.digest == result.digest == result.to_dict()["digest"]
    assert SlateResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@given(slate_inputs())
def test_every_number_is_exact(inputs):
    result = compute_slate(inputs)

    def no_floats(value):
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for item in value.values():
                no_floats(item)
        elif isinstance(value, list):
            for item in value:
                no_floats(item)

    no_floats(result.to_dict())
    no_floats(inputs.to_dict())
    for award in result.awards:
        assert type(award.awarded_hours) is int and type(award.requested_hours) is int
    for state in result.states:
        assert type(state.contribution_share) is Fraction and type(state.allocated_share) is Fraction
        assert all(type(getattr(state, f)) is int for f in ("floor_hours", "cap_hours", "allocated_hours"))
        assert Fraction(state.allocated_share) == (Fraction(state.allocated_hours, result.awarded_hours)
                                                   if result.awarded_hours else 0)
    assert type(result.tolerance) is Fraction and type(result.awarded_hours) is int


def test_the_order_of_the_published_list_does_not_matter_only_the_ranks():
    data = example()
    shuffled = data | {"proposals": list(reversed(data["proposals"])),
                       "tracks": dict(reversed(list(data["tracks"].items())))}
    assert compute_slate(SlateInputs.from_dict(shuffled)).digest == compute_slate(SlateInputs.from_dict(data)).digest


def test_a_tampered_result_is_refused():
    published = compute_slate(SlateInputs.from_dict(example())).to_dict()
    published["awards"][0]["awarded_hours"] += 1
    with pytest.raises(SlateError) as caught:
        SlateResult.from_dict(published)
    assert caught.value.field == "digest"


def test_the_six_decimal_share_rounds_half_to_even():
    assert six_decimals(Fraction(1, 3)) == "0.333333" and six_decimals(Fraction(2, 3)) == "0.666667"
    assert six_decimals(Fraction(1, 2_000_000)) == "0.000000" and six_decimals(Fraction(3, 2_000_000)) == "0.000002"
    assert six_decimals(Fraction(1)) == "1.000000"


def test_limits_never_cross_even_with_no_tolerance():
    assert state_limits(Fraction(1, 3), Fraction(0), 10) == (3, 3)
    assert state_limits(Fraction(9, 10), Fraction(1, 5), 10) == (7, 10)


def test_the_slate_takes_the_ranking_as_it_comes():
    reviews = {1: [{"excellence": 4, "impact": 4, "feasibility": 4, "openness": 4, "safety": 4}],
               2: [{"excellence": 5, "impact": 4, "feasibility": 3, "openness": 4, "safety": 4}],
               3: [{"excellence": 2, "impact": 2, "feasibility": 2, "openness": 2, "safety": 2}]}
    ranked = rank(score_entry(proposal_id=i, track="t", submitted_at="2025-03-01T12:00:00Z", reviews=r)
                  for i, r in reviews.items())
    inputs = SlateInputs.from_dict({
        "policy": "merit", "tolerance": "0", "shares": {}, "tracks": {"t": {"pool_hours": 150, "min_award_hours": 10}},
        "proposals": [proposal(r.proposal_id, r.track, "DE", 100, r.rank, str(r.score), r.fundable) for r in ranked]})
    assert [(a.proposal_id, a.awarded_hours) for a in compute_slate(inputs).awards] == [(2, 100), (1, 50), (3, 0)]


def _set(data, path, value):
    *head, last = path
    target = data
    for key in head:
        target = target[key]
    if value is dataclasses.MISSING:
        del target[last]
    else:
        target[last] = value


@pytest.mark.parametrize(("path", "value", "field"), [
    (("tracks", "foundation", "pool_hours"), -1, "tracks.foundation.pool_hours"),
    (("tracks", "foundation", "pool_hours"), 1000.0, "tracks.foundation.pool_hours"),
    (("tracks", "sme", "min_award_hours"), 0, "tracks.sme.min_award_hours"),
    (("policy",), "lottery", "policy"),
    (("tolerance",), "3/2", "tolerance"),
    (("tolerance",), 0.05, "tolerance"),
    (("shares", "PL"), "1/2", "shares"),
    (("shares", "DE"), "-0.1", "shares.DE"),
    (("proposals", 0, "track"), "moonshot", "proposals[0].track"),
    (("proposals", 0, "score"), 4.5, "proposals[0].score"),
    (("proposals", 0, "member_state"), "Germany", "proposals[0].member_state"),
    (("proposals", 0, "requested_hours"), 0, "proposals[0].requested_hours"),
    (("proposals", 0, "requested_hours"), dataclasses.MISSING, "proposals[0].requested_hours"),
    (("proposals", 1, "rank"), 1, "proposals[1].rank"),
    (("proposals", 1, "proposal_id"), 1, "proposals[1].proposal_id"),
    (("proposals", 0, "score"), "1", "proposals.rank"),
    (("proposals", 0, "fundable"), "yes", "proposals[0].fundable"),
])
def test_bad_inputs_name_the_field(path, value, field):
    data = json.loads(json.dumps(example()))
    _set(data, path, value)
    with pytest.raises(SlateError) as caught:
        SlateInputs.from_dict(data)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == field and field in str(caught.value)


def test_policy_is_an_enum_once_read():
    assert SlateInputs.from_dict(example("merit")).policy is Policy.MERIT
