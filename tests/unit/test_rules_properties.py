"""Property tests of the constitution-as-code tally (governance/rules.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicommons.governance import rules
from aicommons.governance.rules import Abstentions, Base, Choice, Outcome, Rule, Tie, Weighting

STATES = [f"S{i:02d}" for i in range(12)]

thresholds = st.fractions(min_value=0, max_value=1, max_denominator=12).filter(lambda f: f > 0)
ties = st.sampled_from(list(Tie))


@st.composite
def rule_strategy(draw, weighting=None, base=None):
    weighting = weighting or draw(st.sampled_from(list(Weighting)))
    threshold = draw(thresholds)
    weighted = draw(thresholds) if weighting is Weighting.DOUBLE_MAJORITY else None
    tie = Tie.PASSES if Fraction(1) in (threshold, weighted) else draw(ties)
    return Rule(base=base or draw(st.sampled_from([Base.PRESENT_AND_VOTING, Base.ALL_MEMBERS])),
                threshold=threshold, weighting=weighting, weighted_threshold=weighted, tie=tie,
                quorum=draw(st.fractions(min_value=0, max_value=1, max_denominator=6)),
                quorum_strict=draw(st.booleans()),
                abstentions=draw(st.sampled_from(list(Abstentions))))


@st.composite
def electorate_strategy(draw):
    states = draw(st.lists(st.sampled_from(STATES), min_size=1, max_size=len(STATES), unique=True))
    weights = [draw(st.integers(min_value=1, max_value=1000)) for _ in states]
    total = sum(weights)
    return {s: Fraction(w, total) for s, w in zip(states, weights, strict=True)}


@st.composite
def ballots_for(draw, eligible):
    choices = st.one_of(st.none(), st.sampled_from(list(Choice)))
    cast = {s: draw(choices) for s in eligible}
    return {s: c for s, c in cast.items() if c is not None}


@st.composite
def scenario(draw, weighting=None, base=None):
    eligible = draw(electorate_strategy())
    return draw(rule_strategy(weighting, base)), eligible, draw(ballots_for(eligible))


@given(st.data())
def test_unanimity_of_all_members_passes_iff_every_eligible_state_votes_yes(data):
    eligible = data.draw(electorate_strategy())
    ballots = data.draw(ballots_for(eligible))
    rule = Rule(base=Base.ALL_MEMBERS, threshold=Fraction(1), tie=Tie.PASSES)
    result = rules.tally(rule, eligible, ballots)
    everyone_yes = all(ballots.get(s) is Choice.YES for s in eligible)
    assert (result.outcome is Outcome.PASSED) == everyone_yes


@given(scenario(), st.data())
def test_adding_a_yes_never_turns_a_pass_into_a_fail(case, data):
    rule, eligible, ballots = case
    before = rules.tally(rule, eligible, ballots)
    not_yet_yes = [s for s in eligible if ballots.get(s) is not Choice.YES]
    if not not_yet_yes:
        return
    state = data.draw(st.sampled_from(not_yet_yes))
    after = rules.tally(rule, eligible, {**ballots, state: Choice.YES})
    if before.outcome is Outcome.PASSED:
        assert after.outcome is Outcome.PASSED


@given(scenario(weighting=Weighting.DOUBLE_MAJORITY))
def test_double_majority_passes_iff_both_parts_pass(case):
    rule, eligible, ballots = case
    heads = replace(rule, weighting=Weighting.ONE_STATE_ONE_VOTE, weighted_threshold=None)
    weights = replace(rule, weighting=Weighting.CONTRIBUTION, threshold=rule.weighted_threshold,
                      weighted_threshold=None)
    both = rules.tally(rule, eligible, ballots).outcome is Outcome.PASSED
    assert both == (rules.tally(heads, eligible, ballots).outcome is Outcome.PASSED
                    and rules.tally(weights, eligible, ballots).outcome is Outcome.PASSED)


@given(scenario(), st.dictionaries(st.sampled_from([f"X{i}" for i in range(5)]), st.sampled_from(list(Choice))))
def test_ineligible_states_never_change_an_outcome(case, outsiders):
    rule, eligible, ballots = case
    alone = rules.tally(rule, eligible, ballots)
    crowded = rules.tally(rule, eligible, {**outsiders, **ballots})
    assert crowded.outcome == alone.outcome and crowded.counts == alone.counts
    assert set(crowded.ignored) == set(outsiders)


@given(scenario())
def test_retally_from_the_published_record_equals_the_tally(case):
    rule, eligible, ballots = case
    published = json.loads(json.dumps(rules.tally(rule, eligible, ballots).to_dict()))
    again = rules.tally(Rule.from_dict(published["rule"]),
                        {s: Fraction(w) for s, w in published["eligible"].items()}, published["ballots"])
    assert again.to_dict() == published


@given(scenario(weighting=Weighting.ONE_STATE_ONE_VOTE, base=Base.PRESENT_AND_VOTING))
def test_simple_majority_of_those_voting_is_more_yes_than_no(case):
    _, eligible, ballots = case
    rule = Rule(base=Base.PRESENT_AND_VOTING, threshold=Fraction(1, 2))
    result = rules.tally(rule, eligible, ballots)
    yes = sum(1 for c in ballots.values() if c is Choice.YES)
    no = sum(1 for c in ballots.values() if c is Choice.NO)
    assert (result.outcome is Outcome.PASSED) == (yes > no)


def test_a_tie_fails_a_simple_majority_unless_the_rule_says_otherwise():
    eligible = {"A": Fraction(1, 2), "B": Fraction(1, 2)}
    ballots = {"A": Choice.YES, "B": Choice.NO}
    majority = Rule(base=Base.PRESENT_AND_VOTING, threshold=Fraction(1, 2))
    assert rules.tally(majority, eligible, ballots).outcome is Outcome.FAILED
    assert rules.tally(replace(majority, tie=Tie.PASSES), eligible, ballots).outcome is Outcome.PASSED


def test_exactly_two_thirds_passes_a_two_thirds_rule():
    eligible = {s: Fraction(1, 3) for s in "ABC"}
    result = rules.tally(rules.TWO_THIRDS_PRESENT, eligible, {"A": "yes", "B": "yes", "C": "no"})
    assert result.outcome is Outcome.PASSED


def test_abstentions_make_the_quorum_but_not_the_base():
    eligible = {s: Fraction(1, 4) for s in "ABCD"}
    result = rules.tally(rules.ORDINARY, eligible, {"A": "yes", "B": "abstain", "C": "abstain"})
    assert result.quorum_met and result.parts[0].base == 1 and result.outcome is Outcome.PASSED
    as_no = replace(rules.ORDINARY, abstentions=Abstentions.COUNT_AS_NO)
    assert rules.tally(as_no, eligible, {"A": "yes", "B": "abstain", "C": "abstain"}).outcome is Outcome.FAILED
    as_absent = replace(rules.ORDINARY, abstentions=Abstentions.COUNT_AS_ABSENT)
    assert rules.tally(as_absent, eligible, {"A": "yes", "B": "abstain"}).outcome is Outcome.NO_QUORUM


def test_contribution_weighting_lets_large_contributors_carry_a_vote():
    eligible = {"BIG": Fraction(7, 10), "S1": Fraction(1, 10), "S2": Fraction(1, 10), "S3": Fraction(1, 10)}
    ballots = {"BIG": "yes", "S1": "no", "S2": "no", "S3": "no"}
    weighted = Rule(base=Base.PRESENT_AND_VOTING, threshold=Fraction(1, 2), weighting=Weighting.CONTRIBUTION)
    assert rules.tally(weighted, eligible, ballots).outcome is Outcome.PASSED
    double = Rule(base=Base.PRESENT_AND_VOTING, threshold=Fraction(2, 3), weighting=Weighting.DOUBLE_MAJORITY,
                  weighted_threshold=Fraction(2, 3), tie=Tie.PASSES)
    result = rules.tally(double, eligible, ballots)
    assert result.outcome is Outcome.FAILED and [p.passed for p in result.parts] == [False, True]
    assert "double majority" in rules.describe(double)


@pytest.mark.parametrize(("raw", "field"), [
    ({"base": "all_members", "threshold": "3/2"}, "threshold"),
    ({"base": "all_members", "threshold": "0"}, "threshold"),
    ({"base": "all_members", "threshold": "two thirds"}, "threshold"),
    ({"base": "everyone", "threshold": "1/2"}, "base"),
    ({"base": "all_members", "threshold": "1/2", "weighting": "double_majority"}, "weighted_threshold"),
    ({"base": "all_members", "threshold": "1/2", "quorum": "5/4"}, "quorum"),
    ({"base": "all_members", "threshold": "1", "tie": "fails"}, "tie"),
])
def test_bad_rules_name_the_field(raw, field):
    with pytest.raises(rules.RuleError) as caught:
        Rule.from_dict(raw)
    assert caught.value.field == field


def test_an_empty_electorate_is_refused():
    with pytest.raises(rules.RuleError) as caught:
        rules.electorate([rules.Standing("CA", "observer")], rules.ORDINARY)
    assert caught.value.field == "electorate"


def test_eligibility_follows_status_arrears_and_waivers():
    standings = [rules.Standing("A", "member"), rules.Standing("B", "associate_member"),
                 rules.Standing("C", "member", arrears_eur=301, dues_recent_eur=300),
                 rules.Standing("D", "member", arrears_eur=301, dues_recent_eur=300, arrears_waived=True),
                 rules.Standing("E", "member", arrears_eur=300, dues_recent_eur=300)]
    eligible, excluded = rules.electorate(standings, rules.ORDINARY)
    assert sorted(eligible) == ["A", "D", "E"] and sorted(excluded) == ["B", "C"]


def test_the_default_constitution_expresses_the_convention():
    d, k = rules.DEFAULT_RULES, rules.MotionKind
    assert (d[k.POLICY].threshold, d[k.POLICY].base) == (Fraction(1, 2), Base.PRESENT_AND_VOTING)
    assert (d[k.BUDGET].threshold, d[k.BUDGET].base) == (Fraction(2, 3), Base.PRESENT_AND_VOTING)
    assert (d[k.CONTRIBUTION_SCALE].threshold, d[k.CONTRIBUTION_SCALE].base) == (Fraction(2, 3), Base.ALL_MEMBERS)
    assert (d[k.ADMISSION].threshold, d[k.ADMISSION].base) == (Fraction(1), Base.ALL_MEMBERS)
    assert rules.rules_from_dict(rules.rules_to_dict(d)) == d


@given(st.fractions())
def test_weights_print_exactly(value):
    text = rules.exact_str(value)
    assert Fraction(text) == value
    d = value.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    assert ("/" not in text) == (d == 1), "a decimal exactly when one exists"


@pytest.mark.parametrize("raw", ["0.5/2", "1e-99999999", "-1/2", True, "1/0"])
def test_fractions_in_odd_forms_are_refused_not_crashed(raw):
    with pytest.raises(rules.RuleError):
        rules.fraction(raw, "threshold")


@pytest.mark.parametrize("raw", [[], "threshold", {"policy": "threshold"}])
def test_rules_of_the_wrong_shape_are_refused(raw):
    with pytest.raises(rules.RuleError):
        rules.rules_from_dict(raw)


def test_a_majority_quorum_needs_more_than_half():
    eligible = {s: Fraction(1, 4) for s in "ABCD"}
    assert rules.tally(rules.ORDINARY, eligible, {"A": "yes", "B": "yes"}).outcome is Outcome.NO_QUORUM
    assert rules.tally(rules.ORDINARY, eligible, {"A": "yes", "B": "yes", "C": "no"}).outcome is Outcome.PASSED
