"""Automatic reviewer assignment (access/assignment.py): conflicts, loads, coverage, match, balance."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicommons.access import assignment, coi
from aicommons.access.coi import CallApplicants, ProposalProfile, ReviewerProfile

TOPICS = ["nlp", "vision", "rl", "hpc", "safety", "speech"]
COUNTRIES = ["DE", "FR", "PL"]


def reviewer(person_id, keywords=(), *, orgs=(), delegate_of=(), declared=(), max_load=10):
    return ReviewerProfile(person_id=person_id, organisation_keys=frozenset(orgs), delegate_of=frozenset(delegate_of),
                           declared=frozenset(declared), keywords=frozenset(keywords), max_load=max_load)


def proposal(proposal_id, keywords=(), *, orgs=(), countries=(), people=()):
    return ProposalProfile(proposal_id=proposal_id, organisation_keys=frozenset(orgs), countries=frozenset(countries),
                           people=frozenset(people) or frozenset({10_000 + proposal_id}), keywords=frozenset(keywords))


@st.composite
def calls(draw, max_reviewers=8, max_proposals=8):
    """Institutions, teams, countries, delegates, declared conflicts and reviewer pools, all at random."""
    institutions = [f"institution:{n}" for n in range(5)]
    n_reviewers = draw(st.integers(1, max_reviewers))
    n_proposals = draw(st.integers(1, max_proposals))
    orgs = st.sets(st.sampled_from(institutions), max_size=2)
    proposal_ids = list(range(1, n_proposals + 1))
    reviewer_ids = list(range(101, 101 + n_reviewers))
    reviewers = [reviewer(person_id, draw(st.sets(st.sampled_from(TOPICS), max_size=3)), orgs=draw(orgs),
                          delegate_of=draw(st.sets(st.sampled_from(COUNTRIES), max_size=1)),
                          declared=draw(st.sets(st.sampled_from(proposal_ids), max_size=2)),
                          max_load=draw(st.integers(0, 4)))
                 for person_id in reviewer_ids]
    proposals = [proposal(proposal_id, draw(st.sets(st.sampled_from(TOPICS), max_size=3)), orgs=draw(orgs),
                          countries=draw(st.sets(st.sampled_from(COUNTRIES), max_size=2)),
                          people=draw(st.sets(st.sampled_from([900, 901, 902]), min_size=1, max_size=2))
                          | draw(st.sets(st.sampled_from(reviewer_ids), max_size=1)))  # a reviewer may apply too
                 for proposal_id in proposal_ids]
    applicants = CallApplicants.of(proposals)
    # Existing (manual) pairs: drawn from the allowed ones, within each reviewer's load.
    load: Counter[int] = Counter()
    existing = []
    wanted = draw(st.lists(st.tuples(st.sampled_from(proposal_ids), st.sampled_from(reviewers)), max_size=4))
    for proposal_id, r in wanted:
        p = proposals[proposal_id - 1]
        if (proposal_id, r.person_id) not in existing and load[r.person_id] < r.max_load \
                and not coi.reasons(r, p, applicants):
            existing.append((proposal_id, r.person_id))
            load[r.person_id] += 1
    return reviewers, proposals, applicants, existing, draw(st.integers(1, 3))


def brute_force_best(reviewers, proposals, applicants, per_proposal, existing=()) -> tuple[int, int]:
    """The most reviews, then the most match, over every assignment (tiny calls only)."""
    fixed = set(existing)
    room = Counter({r.person_id: r.max_load for r in reviewers})
    room.subtract(r for _, r in fixed)
    choices = []
    for p in proposals:
        allowed = [r for r in reviewers
                   if not coi.reasons(r, p, applicants) and (p.proposal_id, r.person_id) not in fixed]
        need = max(0, per_proposal - sum(1 for q, _ in fixed if q == p.proposal_id))
        choices.append([c for n in range(need + 1) for c in itertools.combinations(allowed, n)])
    best = (-1, -1)
    for picked in itertools.product(*choices):
        used = Counter(r.person_id for group in picked for r in group)
        if all(used[r] <= room[r] for r in used):
            match = sum(assignment.match(r, p) for p, group in zip(proposals, picked, strict=True) for r in group)
            best = max(best, (sum(map(len, picked)), match))
    return best


def assert_keeps_the_rules(result, reviewers, proposals, applicants, existing=()):
    by_reviewer = {r.person_id: r for r in reviewers}
    by_proposal = {p.proposal_id: p for p in proposals}
    for proposal_id, reviewer_id in result.pairs:  # pair by pair, independent of coi.conflicted
        assert coi.reasons(by_reviewer[reviewer_id], by_proposal[proposal_id], applicants) == []
    assert len(set(result.pairs)) == len(result.pairs)
    load = Counter(r for _, r in result.pairs)
    assert all(load[r.person_id] <= r.max_load for r in reviewers)
    assert result.loads == {r.person_id: load[r.person_id] for r in reviewers}
    assert set(existing) <= set(result.pairs)
    assert result.total_match == sum(assignment.match(by_reviewer[r], by_proposal[p]) for p, r in result.pairs)
    assert not assignment.check(result, reviewers, proposals, applicants)


@settings(max_examples=300, deadline=None)
@given(calls())
def test_assignment_keeps_every_rule_and_matches_at_least_greedy(call):
    reviewers, proposals, applicants, existing, per_proposal = call
    ours = assignment.assign(reviewers, proposals, reviews_per_proposal=per_proposal, existing=existing,
                             applicants=applicants)
    assert_keeps_the_rules(ours, reviewers, proposals, applicants, existing)
    base = assignment.greedy(reviewers, proposals, reviews_per_proposal=per_proposal, existing=existing,
                             applicants=applicants)
    assert_keeps_the_rules(base, reviewers, proposals, applicants, existing)
    covered = lambda result: len(result.pairs)  # noqa: E731
    assert covered(ours) >= covered(base)
    if covered(ours) == covered(base):
        assert ours.total_match >= base.total_match
    reviews = Counter(p for p, _ in ours.pairs)
    assert ours.short == {p.proposal_id: per_proposal - reviews[p.proposal_id] for p in proposals
                          if reviews[p.proposal_id] < per_proposal}


@settings(max_examples=150, deadline=None)
@given(calls(max_reviewers=4, max_proposals=3))
def test_small_calls_get_the_best_coverage_then_the_best_match(call):
    reviewers, proposals, applicants, existing, per_proposal = call
    per_proposal = min(per_proposal, 2)
    ours = assignment.assign(reviewers, proposals, reviews_per_proposal=per_proposal, existing=existing,
                             applicants=applicants)
    fixed_match = sum(assignment.match(r, p) for p in proposals for r in reviewers
                      if (p.proposal_id, r.person_id) in set(existing))
    best_pairs, best_match = brute_force_best(reviewers, proposals, applicants, per_proposal, existing)
    assert (len(ours.pairs) - len(existing), ours.total_match - fixed_match) == (best_pairs, best_match)
    # With one candidate per proposal the flow alone could not reach full coverage; the augmenting step does.
    narrow = assignment.assign(reviewers, proposals, reviews_per_proposal=per_proposal, existing=existing,
                               applicants=applicants, candidates_per_proposal=1)
    assert len(narrow.pairs) - len(existing) == best_pairs
    assert_keeps_the_rules(narrow, reviewers, proposals, applicants, existing)


@settings(max_examples=150, deadline=None)
@given(calls())
def test_no_review_can_move_to_a_much_idler_reviewer_of_equal_match(call):
    reviewers, proposals, applicants, existing, per_proposal = call
    ours = assignment.assign(reviewers, proposals, reviews_per_proposal=per_proposal, existing=existing,
                             applicants=applicants)
    on = {(p, r) for p, r in ours.pairs}
    for p in proposals:
        for r_from in reviewers:
            if (p.proposal_id, r_from.person_id) not in on or (p.proposal_id, r_from.person_id) in existing:
                continue
            for r_to in reviewers:
                movable = ((p.proposal_id, r_to.person_id) not in on and not coi.reasons(r_to, p, applicants)
                           and ours.loads[r_to.person_id] < r_to.max_load
                           and assignment.match(r_to, p) == assignment.match(r_from, p))
                assert not movable or ours.loads[r_to.person_id] + 1 >= ours.loads[r_from.person_id]


def test_match_counts_shared_keywords():
    assert assignment.match(reviewer(1, {"nlp", "vision", "hpc"}), proposal(1, {"vision", "hpc", "rl"})) == 2
    assert assignment.match(reviewer(1, {"NLP"}), proposal(1, {"nlp"})) == 1
    assert assignment.match(reviewer(1), proposal(1, {"nlp"})) == 0


def test_a_proposal_no_reviewer_may_review_is_reported_short():
    reviewers = [reviewer(1, {"nlp"}, orgs={"institution:7"}), reviewer(2, {"nlp"}, delegate_of={"DE"}),
                 reviewer(3, {"nlp"}, declared={1}), reviewer(4, {"nlp"})]
    proposals = [proposal(1, {"nlp"}, orgs={"institution:7"}, countries={"DE"}), proposal(2, {"nlp"})]
    result = assignment.assign(reviewers, proposals, reviews_per_proposal=2)
    assert result.short == {1: 1}
    assert (1, 4) in result.pairs and len(result.pairs) == 3


def test_too_little_capacity_is_reported_short_not_overloaded():
    reviewers = [reviewer(1, {"nlp"}, max_load=2), reviewer(2, {"nlp"}, max_load=1)]
    proposals = [proposal(n, {"nlp"}) for n in range(1, 4)]
    result = assignment.assign(reviewers, proposals, reviews_per_proposal=2)
    assert sum(result.short.values()) == 3
    assert result.loads == {1: 2, 2: 1}


def test_a_proposal_greedy_leaves_short_is_completed_by_an_augmenting_path():
    # Greedy gives proposal 1 its best reviewer, 10; proposal 2 may only have 10 (11 is a delegate of FR).
    reviewers = [reviewer(10, {"nlp", "vision"}, max_load=1), reviewer(11, {"rl"}, delegate_of={"FR"}, max_load=1)]
    proposals = [proposal(1, {"nlp", "vision"}), proposal(2, {"hpc"}, countries={"FR"})]
    base = assignment.greedy(reviewers, proposals, reviews_per_proposal=1)
    assert base.pairs == [(1, 10)] and base.short == {2: 1}
    ours = assignment.assign(reviewers, proposals, reviews_per_proposal=1)
    assert ours.pairs == [(1, 11), (2, 10)] and ours.short == {}


@pytest.mark.parametrize("candidates_per_proposal", [1, 24])
def test_a_chain_of_moves_frees_a_place_even_at_some_cost_in_match(candidates_per_proposal):
    # Only 10 may review proposal 3, and greedy gives 10 to proposal 1. Proposal 1 may move to 11 (12 declared a
    # conflict with it) only if proposal 2 moves from 11 to 12. Coverage comes first: greedy matches more (2 vs 1)
    # but leaves proposal 3 without a review.
    reviewers = [reviewer(10, {"nlp"}, max_load=1), reviewer(11, {"nlp"}, orgs={"institution:1"}, max_load=1),
                 reviewer(12, orgs={"institution:1"}, declared={1}, max_load=1)]
    proposals = [proposal(1, {"nlp"}), proposal(2, {"nlp"}), proposal(3, orgs={"institution:1"})]
    base = assignment.greedy(reviewers, proposals, reviews_per_proposal=1)
    assert base.pairs == [(1, 10), (2, 11)] and base.short == {3: 1}
    ours = assignment.assign(reviewers, proposals, reviews_per_proposal=1,
                             candidates_per_proposal=candidates_per_proposal)
    assert ours.pairs == [(1, 11), (2, 12), (3, 10)] and ours.short == {}


def test_more_expertise_than_greedy_when_greedy_takes_a_shared_expert_first():
    # Greedy lets proposal 1 take expert 10, whom proposal 2 needs more; 11 is as good for proposal 1.
    reviewers = [reviewer(10, {"nlp", "vision"}, max_load=1), reviewer(11, {"nlp", "vision"}, max_load=1,
                                                                        declared={2}),
                 reviewer(12, max_load=1)]
    proposals = [proposal(1, {"nlp", "vision"}), proposal(2, {"nlp", "vision"})]
    base = assignment.greedy(reviewers, proposals, reviews_per_proposal=1)
    ours = assignment.assign(reviewers, proposals, reviews_per_proposal=1)
    assert base.total_match == 2 and ours.total_match == 4
    assert ours.pairs == [(1, 11), (2, 10)]


def test_existing_pairs_are_kept_and_count_toward_loads_and_reviews():
    reviewers = [reviewer(1, {"nlp"}, max_load=1), reviewer(2, {"nlp"}, max_load=2), reviewer(3, max_load=2)]
    proposals = [proposal(1, {"nlp"}), proposal(2, {"nlp"})]
    result = assignment.assign(reviewers, proposals, reviews_per_proposal=2, existing=[(1, 3)])
    assert (1, 3) in result.pairs and result.short == {}
    assert sum(1 for p, _ in result.pairs if p == 1) == 2
    assert result.loads[1] <= 1 and result.loads[3] <= 2


def test_existing_pairs_that_override_a_rule_are_kept_and_nothing_is_added_past_them():
    # A manual pair over a conflict (overridden with a justification) and one past reviewer 2's load.
    reviewers = [reviewer(1, orgs={"institution:1"}, max_load=1), reviewer(2, max_load=1), reviewer(3, max_load=5)]
    proposals = [proposal(1, orgs={"institution:1"}), proposal(2), proposal(3)]
    existing = [(1, 1), (1, 2), (2, 2)]
    result = assignment.assign(reviewers, proposals, reviews_per_proposal=2, existing=existing)
    assert set(existing) <= set(result.pairs)
    added = sorted(set(result.pairs) - set(existing))
    assert added == [(2, 3), (3, 3)]
    assert result.loads == {1: 1, 2: 2, 3: 2} and result.short == {3: 1}


@pytest.mark.parametrize("existing", [[(9, 2)], [(1, 9)], [(1, 2), (1, 2)]])
def test_existing_pairs_naming_unknown_ids_or_given_twice_are_refused(existing):
    reviewers = [reviewer(1, orgs={"institution:1"}), reviewer(2, max_load=1)]
    proposals = [proposal(1, orgs={"institution:1"}), proposal(2)]
    with pytest.raises(ValueError, match=r"unknown|twice"):
        assignment.assign(reviewers, proposals, existing=existing)


def test_loads_are_balanced_among_equal_matches():
    reviewers = [reviewer(n, {"nlp"}) for n in range(1, 7)]
    proposals = [proposal(n, {"nlp"}) for n in range(1, 7)]
    result = assignment.assign(reviewers, proposals, reviews_per_proposal=3)
    assert set(result.loads.values()) == {3}


def test_the_same_call_in_any_order_gets_the_same_assignment():
    rng = random.Random(7)
    reviewers = [reviewer(n, rng.sample(TOPICS, 2), orgs={f"institution:{n % 4}"}, max_load=3) for n in range(1, 13)]
    proposals = [proposal(n, rng.sample(TOPICS, 2), orgs={f"institution:{n % 5}"}) for n in range(1, 11)]
    first = assignment.assign(reviewers, proposals)
    for _ in range(3):
        rng.shuffle(reviewers)
        rng.shuffle(proposals)
        assert assignment.assign(reviewers, proposals) == first
    assert assignment.greedy(reviewers, proposals) == assignment.greedy(list(reversed(reviewers)), proposals)


def test_violations_finds_conflicts_overloads_and_duplicates():
    reviewers = [reviewer(1, orgs={"institution:1"}, max_load=1), reviewer(2, max_load=1)]
    proposals = [proposal(1, orgs={"institution:1"}), proposal(2)]
    found = assignment.violations([(1, 1), (2, 2), (2, 2), (3, 1)], reviewers, proposals)
    assert [(p, r) for p, r, _ in found.conflicted] == [(1, 1)]
    assert found.conflicted[0][2] == [coi.Reason.INSTITUTION]
    assert found.over_capacity == {2: 2}
    assert found.duplicates == [(2, 2)] and found.unknown == [(3, 1)]
    assert not assignment.violations([(2, 2)], reviewers, proposals)


def test_conflicted_bars_a_team_member_even_when_applicants_leave_them_out():
    reviewers = [reviewer(5)]
    proposals = [proposal(1, people={5})]
    assert coi.conflicted(reviewers, proposals, CallApplicants()) == {1: {5}}
    assert assignment.assign(reviewers, proposals, applicants=CallApplicants()).pairs == []
