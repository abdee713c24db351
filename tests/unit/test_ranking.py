"""Scoring and ranking reviewed proposals (access/ranking.py): exact scores, documented tie-breaks."""

from __future__ import annotations

import itertools
import json
import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicommons.access.ranking import (
    DEFAULT_RUBRIC,
    Criterion,
    RankedEntry,
    RankingEntry,
    RankingError,
    Rubric,
    ScoreError,
    criterion_means,
    flagged,
    parse_fraction,
    rank,
    score_entry,
    spread,
    validate_scores,
    weighted_score,
)

NAMES = DEFAULT_RUBRIC.names


def review(excellence=3, impact=3, feasibility=3, openness=3, safety=3):
    return {"excellence": excellence, "impact": impact, "feasibility": feasibility, "openness": openness,
            "safety": safety}


def entry(proposal_id, score, *, excellence=None, spread_points=0, submitted_at="2025-03-01T12:00:00Z",
          track="foundation"):
    lead = Fraction(score) if excellence is None else Fraction(excellence)
    means = {name: Fraction(score) for name in NAMES} | {"excellence": lead}
    return RankingEntry(proposal_id, track, Fraction(score), means, spread_points, submitted_at)


reviews_strategy = st.lists(st.fixed_dictionaries({name: st.integers(1, 5) for name in NAMES}), min_size=1,
                            max_size=6)


def test_the_default_rubric_weighs_excellence_most():
    assert [(c.name, c.weight) for c in DEFAULT_RUBRIC.criteria] == [
        ("excellence", 30), ("impact", 25), ("feasibility", 20), ("openness", 15), ("safety", 10)]
    assert DEFAULT_RUBRIC.lead == "excellence"


def test_weighted_score_is_the_weighted_mean_of_criterion_means_exactly():
    reviews = [review(5, 4, 3, 2, 1), review(4, 4, 4, 4, 4)]
    # means 9/2, 4, 7/2, 3, 5/2 -> (30*9/2 + 25*4 + 20*7/2 + 15*3 + 10*5/2) / 100 = 375/100
    assert criterion_means(DEFAULT_RUBRIC, reviews)["excellence"] == Fraction(9, 2)
    score = weighted_score(DEFAULT_RUBRIC, reviews)
    assert score == Fraction(15, 4) and type(score) is Fraction


def test_thirds_stay_exact():
    score = weighted_score(Rubric((Criterion("only", 1),)), [{"only": 1}, {"only": 1}, {"only": 2}])
    assert score == Fraction(4, 3)


@given(reviews_strategy)
def test_a_score_lies_between_the_lowest_and_highest_score_given(reviews):
    score = weighted_score(DEFAULT_RUBRIC, reviews)
    values = [r[name] for r in reviews for name in NAMES]
    assert type(score) is Fraction and min(values) <= score <= max(values)


@pytest.mark.parametrize(("scores", "criterion"), [
    ({k: v for k, v in review().items() if k != "impact"}, "impact"),
    (review() | {"novelty": 3}, "novelty"),
    (review(safety=6), "safety"),
    (review(openness=0), "openness"),
    (review(feasibility=True), "feasibility"),
    (review(excellence=4.0), "excellence"),
])
def test_a_bad_score_names_its_criterion(scores, criterion):
    with pytest.raises(ScoreError) as caught:
        validate_scores(DEFAULT_RUBRIC, scores)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == criterion and criterion in str(caught.value)


def test_scoring_needs_a_review_and_validates_each():
    with pytest.raises(RankingError) as caught:
        weighted_score(DEFAULT_RUBRIC, [])
    assert caught.value.field == "reviews"
    with pytest.raises(ScoreError):
        weighted_score(DEFAULT_RUBRIC, [review(), review(impact=9)])


def test_rubrics_refuse_bad_weights_and_duplicate_names():
    with pytest.raises(RankingError):
        Rubric((Criterion("a", 0),))
    with pytest.raises(RankingError):
        Rubric((Criterion("a", 1), Criterion("a", 2)))
    with pytest.raises(RankingError):
        Rubric(())
    assert Rubric.from_dict(DEFAULT_RUBRIC.to_dict()) == DEFAULT_RUBRIC


def test_spread_is_the_largest_gap_on_any_one_criterion():
    # Same overall score, opposite views on excellence and safety: the per-criterion gap shows it.
    a, b = review(5, 3, 3, 3, 1), review(1, 3, 3, 3, 5)
    assert spread(DEFAULT_RUBRIC, [a, b]) == 4
    assert spread(DEFAULT_RUBRIC, [a]) == 0
    assert flagged(2) and not flagged(1) and flagged(3, threshold=3) and not flagged(2, threshold=3)


@given(reviews_strategy)
def test_spread_is_a_whole_number_within_the_scale(reviews):
    gap = spread(DEFAULT_RUBRIC, reviews)
    assert type(gap) is int and 0 <= gap <= 4


def test_rank_orders_by_score_then_the_documented_tie_breaks():
    entries = [
        entry(1, 4),
        entry(2, 4, excellence=5),  # same score, higher excellence
        entry(3, 4, spread_points=2),  # same score and excellence as 1, more disagreement
        entry(4, 4, submitted_at="2025-03-01T11:00:00Z"),  # same as 1 but submitted earlier
        entry(5, 4),  # identical to 1 in everything but the id
        entry(6, Fraction(9, 2)),  # higher score beats everything
    ]
    assert [r.proposal_id for r in rank(entries)] == [6, 2, 4, 1, 5, 3]


def test_submission_times_compare_as_instants_whatever_the_offset():
    later_in_utc = entry(1, 4, submitted_at="2025-03-01T12:30:00+00:00")
    earlier_in_utc = entry(2, 4, submitted_at="2025-03-01T13:00:00+01:00")  # 12:00Z
    assert [r.proposal_id for r in rank([later_in_utc, earlier_in_utc])] == [2, 1]


def test_ranks_are_overall_and_per_track_and_low_scores_are_not_fundable():
    entries = [entry(1, 4, track="a"), entry(2, Fraction(7, 2), track="b"), entry(3, 3, track="a"),
               entry(4, Fraction(29, 10), track="b")]
    ranked = {r.proposal_id: r for r in rank(entries)}
    assert [(ranked[i].rank, ranked[i].track_rank, ranked[i].fundable) for i in (1, 2, 3, 4)] == [
        (1, 1, True), (2, 1, True), (3, 2, True), (4, 2, False)]
    assert not rank([entry(1, 4)], funding_threshold=Fraction(9, 2))[0].fundable


@given(st.lists(st.tuples(st.integers(4, 20), st.integers(4, 20), st.integers(0, 4), st.integers(0, 3),
                          st.sampled_from("ab")), max_size=12), st.randoms(use_true_random=False))
def test_rank_is_a_total_order_independent_of_input_order(rows, shuffler: random.Random):
    entries = [entry(i, Fraction(s, 4), excellence=Fraction(e, 4), spread_points=g,
                     submitted_at=f"2025-03-0{d + 1}T00:00:00Z", track=t) for i, (s, e, g, d, t) in enumerate(rows)]
    first = rank(entries)
    shuffler.shuffle(entries)
    assert rank(entries) == first
    assert [r.rank for r in first] == list(range(1, len(entries) + 1))
    for better, worse in itertools.pairwise(first):
        assert better.score >= worse.score
        if better.score == worse.score:
            assert better.criterion_means["excellence"] >= worse.criterion_means["excellence"]


def test_rank_refuses_duplicates_and_naive_timestamps():
    with pytest.raises(RankingError) as caught:
        rank([entry(1, 4), entry(1, 3)])
    assert caught.value.field == "proposal_id"
    with pytest.raises(RankingError) as caught:
        rank([entry(1, 4, submitted_at="2025-03-01T12:00:00"), entry(2, 4)])
    assert caught.value.field == "submitted_at"


def test_a_scored_entry_round_trips_through_plain_json():
    scored = score_entry(proposal_id=7, track="sme", submitted_at="2025-03-01T12:00:00Z",
                         reviews=[review(5, 4, 3, 2, 1), review(4, 4, 4, 4, 5)])
    ranked = rank([scored])[0]
    data = ranked.to_dict()
    assert data["score"] == "19/5" and data["criterion_means"]["excellence"] == "9/2"
    assert RankedEntry.from_dict(json.loads(json.dumps(data))) == ranked


@pytest.mark.parametrize("text", ["7/2", "3.5", "3", " 1/20 ", 3])
def test_exact_numbers_parse(text):
    assert type(parse_fraction(text, "score")) is Fraction


@pytest.mark.parametrize("bad", [3.5, "1e-9", "-1", "1/0", "nan", "", None, True, "1.5/2"])
def test_inexact_or_malformed_numbers_are_refused(bad):
    with pytest.raises(RankingError) as caught:
        parse_fraction(bad, "score")
    assert caught.value.field == "score"
