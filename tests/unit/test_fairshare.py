"""Fair-share queue order (compute/fairshare.py): exact decay, Fair-Tree ranking, depth-first order, age."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicommons.compute.fairshare import (
    DEFAULT_HALF_LIFE,
    FORGET_AFTER_HALF_LIVES,
    Allocation,
    FairshareError,
    MemberState,
    QueuedJob,
    Usage,
    _fraction_factor,
    decayed,
    decayed_usage,
    queue_order,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
CODES = ["AT", "BE", "DE", "ES", "FR", "IT", "NL", "PL"]


def order(states, allocations, usage=(), jobs=(), half_life=DEFAULT_HALF_LIFE):
    return queue_order(states=states, allocations=allocations, usage=usage, jobs=jobs, now=NOW, half_life=half_life)


# --- decay -----------------------------------------------------------------------------------------------------


def test_one_half_life_halves_usage_exactly():
    assert decayed(1000, DEFAULT_HALF_LIFE) == 500
    assert decayed(7, timedelta(days=21)) == Fraction(7, 8)
    assert decayed(1000, timedelta(0)) == 1000


@given(st.integers(0, 10**12), st.integers(0, 200 * 3600), st.integers(1, 3600))
def test_a_further_half_life_halves_a_decayed_charge_exactly(gpu_seconds, age_s, half_life_s):
    half_life = timedelta(seconds=half_life_s)
    age = timedelta(seconds=age_s % (200 * half_life_s))
    assert decayed(gpu_seconds, age + half_life, half_life) == decayed(gpu_seconds, age, half_life) / 2


@given(st.integers(1, 10**15).flatmap(lambda h: st.tuples(st.integers(0, h - 1), st.just(h))))
def test_the_fractional_factor_is_within_one_unit_of_the_64th_bit(remainder_and_half_life):
    remainder, half_life = remainder_and_half_life
    with localcontext() as ctx:
        ctx.prec = 60
        exact = Decimal(2) ** (Decimal(-remainder) / Decimal(half_life)) * Decimal(2) ** 64
    assert abs(Decimal(_fraction_factor(remainder, half_life)) - exact) < 1


@given(st.integers(1, 10**9), st.integers(0, 10 * 24 * 3600), st.integers(1, 10**6))
def test_decay_is_monotone_and_never_exceeds_the_charge(gpu_seconds, age_s, step_s):
    older = decayed(gpu_seconds, timedelta(seconds=age_s + step_s))
    younger = decayed(gpu_seconds, timedelta(seconds=age_s))
    assert 0 < older <= younger <= gpu_seconds


def test_future_and_ancient_charges():
    assert decayed(60, timedelta(seconds=-30)) == 60  # ended after "now": counts in full, never more
    assert decayed(60, DEFAULT_HALF_LIFE * FORGET_AFTER_HALF_LIVES) == 0
    assert decayed(60, DEFAULT_HALF_LIFE * (FORGET_AFTER_HALF_LIVES - 1)) == Fraction(60, 2 ** 255)


@given(st.lists(st.tuples(st.integers(1, 3), st.integers(0, 10**7), st.integers(-3600, 400 * 24 * 3600)),
                max_size=30))
def test_decayed_usage_is_exactly_the_sum_of_decayed_charges(charges):
    usage = [Usage(a, g, NOW - timedelta(seconds=s)) for a, g, s in charges]
    totals = decayed_usage(usage, now=NOW)
    for allocation in {a for a, _, _ in charges}:
        assert totals[allocation] == sum(decayed(g, timedelta(seconds=s)) for a, g, s in charges if a == allocation)


# --- ranking ---------------------------------------------------------------------------------------------------


def test_worked_example_level_fairshare_values():
    # DE funds 3/5 and used 100 GPU-s just now; FR funds 2/5 and used 100 GPU-s one half-life ago (counts 50).
    states = [MemberState("DE", Fraction(3, 5)), MemberState("FR", Fraction(2, 5))]
    allocations = [Allocation(1, "DE", 3600), Allocation(2, "FR", 3600), Allocation(3, "FR", 7200)]
    usage = [Usage(1, 100, NOW), Usage(2, 100, NOW - DEFAULT_HALF_LIFE)]
    jobs = [QueuedJob(10, 1, NOW), QueuedJob(20, 2, NOW), QueuedJob(30, 3, NOW)]
    result = order(states, allocations, usage, jobs)
    fr, de = result.states
    # U: DE 100/150, FR 50/150; LF: DE (3/5)/(2/3) = 9/10, FR (2/5)/(1/3) = 6/5: FR first.
    assert (fr.key, fr.normalised_usage, fr.level_fairshare, fr.rank) == ("FR", Fraction(1, 3), Fraction(6, 5), 1)
    assert (de.key, de.normalised_usage, de.level_fairshare, de.rank) == ("DE", Fraction(2, 3), Fraction(9, 10), 2)
    # Inside FR allocation 3 (share 2/3) has no usage: infinite LF, before allocation 2.
    assert [(a.key, a.parent, a.share, a.level_fairshare) for a in result.allocations] == [
        (3, "FR", Fraction(2, 3), None), (2, "FR", Fraction(1, 3), Fraction(1, 3)), (1, "DE", 1, 1)]
    assert result.job_ids == (30, 20, 10)


def test_a_state_without_usage_ranks_before_one_that_used_its_share():
    states = [MemberState("DE", Fraction(9, 10)), MemberState("MT", Fraction(1, 10))]
    allocations = [Allocation(1, "DE", 10), Allocation(2, "MT", 10)]
    result = order(states, allocations, [Usage(1, 1, NOW)], [QueuedJob(1, 1, NOW), QueuedJob(2, 2, NOW)])
    assert result.job_ids == (2, 1)
    assert result.states[0].level_fairshare is None


def test_ties_without_usage_go_to_the_larger_share_then_the_code():
    states = [MemberState("FR", Fraction(1, 4)), MemberState("DE", Fraction(1, 2)), MemberState("BE", Fraction(1, 4))]
    result = order(states, [])
    assert [s.key for s in result.states] == ["DE", "BE", "FR"]


def test_a_state_with_no_share_ranks_last_even_without_usage():
    states = [MemberState("DE", Fraction(1)), MemberState("XX", Fraction(0))]
    allocations = [Allocation(1, "DE", 10), Allocation(2, "XX", 10)]
    result = order(states, allocations, [Usage(1, 10**6, NOW)], [QueuedJob(1, 2, NOW), QueuedJob(2, 1, NOW)])
    assert result.job_ids == (2, 1)
    assert result.states[1].level_fairshare == 0


def test_jobs_compare_submit_times_as_instants_then_ids():
    cet = timezone(timedelta(hours=1))
    jobs = [QueuedJob(5, 1, datetime(2025, 6, 1, 13, 0, tzinfo=cet)),  # 12:00 UTC
            QueuedJob(4, 1, datetime(2025, 6, 1, 12, 30, tzinfo=UTC)),
            QueuedJob(3, 1, datetime(2025, 6, 1, 12, 0, tzinfo=UTC))]
    assert order([MemberState("DE", Fraction(1))], [Allocation(1, "DE", 1)], jobs=jobs).job_ids == (3, 5, 4)


@pytest.mark.parametrize(("change", "field"), [
    ({"states": [MemberState("DE", Fraction(1)), MemberState("DE", Fraction(1))]}, "states.code"),
    ({"states": [MemberState("DE", 0.5)]}, "states.share"),
    ({"states": [MemberState("DE", Fraction(-1))]}, "states.share"),
    ({"allocations": [Allocation(1, "FR", 1)]}, "allocations.state"),
    ({"allocations": [Allocation(1, "DE", 1), Allocation(1, "DE", 2)]}, "allocations.id"),
    ({"allocations": [Allocation(1, "DE", -1)]}, "allocations.budget_gpu_seconds"),
    ({"jobs": [QueuedJob(1, 9, NOW)]}, "jobs.allocation"),
    ({"jobs": [QueuedJob(1, 1, NOW), QueuedJob(1, 1, NOW)]}, "jobs.id"),
    ({"jobs": [QueuedJob(1, 1, datetime(2025, 1, 1))]}, "jobs.submitted_at"),
    ({"usage": [Usage(9, 1, NOW)]}, "usage.allocation"),
    ({"usage": [Usage(1, -1, NOW)]}, "usage.gpu_seconds"),
    ({"usage": [Usage(1, 1, datetime(2025, 1, 1))]}, "usage.ended_at"),
    ({"half_life": timedelta(0)}, "half_life"),
])
def test_bad_input_names_the_field(change, field):
    arguments = {"states": [MemberState("DE", Fraction(1))], "allocations": [Allocation(1, "DE", 1)],
                 "usage": [], "jobs": []} | change
    with pytest.raises(FairshareError) as caught:
        order(**arguments)
    assert caught.value.field == field


# --- properties ------------------------------------------------------------------------------------------------


@st.composite
def facilities(draw):
    codes = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=5, unique=True))
    states = [MemberState(c, draw(st.fractions(min_value=0, max_value=1, max_denominator=20))) for c in codes]
    allocations = [Allocation(i, draw(st.sampled_from(codes)), draw(st.integers(0, 10**6)))
                   for i in range(1, draw(st.integers(1, 8)) + 1)]
    ids = [a.id for a in allocations]
    usage = [Usage(draw(st.sampled_from(ids)), draw(st.integers(0, 10**7)),
                   NOW - timedelta(seconds=draw(st.integers(-600, 60 * 24 * 3600))))
             for _ in range(draw(st.integers(0, 12)))]
    job_ids = draw(st.lists(st.integers(1, 10**6), max_size=20, unique=True))
    jobs = [QueuedJob(j, draw(st.sampled_from(ids)), NOW - timedelta(minutes=draw(st.integers(0, 30))))
            for j in job_ids]
    return states, allocations, usage, jobs


@given(facilities(), st.randoms(use_true_random=False))
def test_order_is_a_deterministic_permutation_whatever_the_input_order(facility, rng):
    states, allocations, usage, jobs = facility
    first = order(states, allocations, usage, jobs)
    assert sorted(first.job_ids) == sorted(j.id for j in jobs)
    for listing in (states, allocations, usage, jobs):
        rng.shuffle(listing)
    assert order(states, allocations, usage, jobs) == first


@given(facilities())
def test_order_is_depth_first_by_rank_then_age(facility):
    states, allocations, usage, jobs = facility
    result = order(states, allocations, usage, jobs)
    by_id = {j.id: j for j in jobs}
    allocation_rank = {a.key: n for n, a in enumerate(result.allocations)}
    keys = [(allocation_rank[by_id[j].allocation], by_id[j].submitted_at, j) for j in result.job_ids]
    assert keys == sorted(keys)  # whole allocations in turn; inside one, oldest first, then id
    state_rank = {s.key: s.rank for s in result.states}
    assert [state_rank[a.parent] for a in result.allocations] == sorted(state_rank[a.parent]
                                                                       for a in result.allocations)


@given(st.fractions(min_value=0, max_value=1, max_denominator=50).filter(bool),
       st.fractions(min_value=0, max_value=1, max_denominator=50).filter(bool),
       st.integers(1, 10**9), st.integers(0, 10**6))
def test_no_usage_ranks_before_any_usage(idle_share, busy_share, busy_seconds, age_s):
    states = [MemberState("AT", idle_share), MemberState("BE", busy_share)]
    allocations = [Allocation(1, "AT", 1), Allocation(2, "BE", 1)]
    usage = [Usage(2, busy_seconds, NOW - timedelta(seconds=age_s))]
    result = order(states, allocations, usage, [QueuedJob(1, 2, NOW - HOUR), QueuedJob(2, 1, NOW)])
    assert result.job_ids == (2, 1)


@given(st.fractions(min_value=0, max_value=1, max_denominator=50).filter(bool),
       st.fractions(min_value=0, max_value=1, max_denominator=50).filter(bool),
       st.integers(0, 10**9), st.sampled_from([("AT", "BE"), ("BE", "AT")]))
def test_with_equal_usage_the_larger_share_goes_first(share_a, share_b, used, codes):
    if share_a == share_b:
        share_b = share_a / 2
    larger, smaller = max(share_a, share_b), min(share_a, share_b)
    big, small = codes
    states = [MemberState(small, smaller), MemberState(big, larger)]
    allocations = [Allocation(1, small, 5), Allocation(2, big, 5)]
    usage = [Usage(1, used, NOW - HOUR), Usage(2, used, NOW - HOUR)]
    result = order(states, allocations, usage, [QueuedJob(1, 1, NOW - HOUR), QueuedJob(2, 2, NOW)])
    assert result.job_ids == (2, 1)


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=30, unique=True), st.randoms(use_true_random=False))
def test_within_one_allocation_older_jobs_first(ages_s, rng):
    jobs = [QueuedJob(n, 1, NOW - timedelta(seconds=age)) for n, age in enumerate(ages_s)]
    rng.shuffle(jobs)
    result = order([MemberState("DE", Fraction(1))], [Allocation(1, "DE", 1)], jobs=jobs)
    assert [ages_s[j] for j in result.job_ids] == sorted(ages_s, reverse=True)


def test_the_half_life_decides_how_fast_old_usage_is_forgiven():
    # FR used twice DE's GPU-seconds, but a month ago: with a 7-day half-life it has paid that back.
    states = [MemberState("DE", Fraction(1, 2)), MemberState("FR", Fraction(1, 2))]
    allocations = [Allocation(1, "DE", 1), Allocation(2, "FR", 1)]
    usage = [Usage(1, 3600, NOW - HOUR), Usage(2, 7200, NOW - 30 * 24 * HOUR)]
    jobs = [QueuedJob(1, 1, NOW - HOUR), QueuedJob(2, 2, NOW)]
    assert order(states, allocations, usage, jobs).job_ids == (2, 1)
    assert order(states, allocations, usage, jobs, half_life=timedelta(days=3650)).job_ids == (1, 2)


def test_same_answer_on_repeated_random_facilities():
    rng = random.Random(6)
    for _ in range(20):
        states = [MemberState(c, Fraction(rng.randint(0, 9), 9)) for c in CODES]
        allocations = [Allocation(i, rng.choice(CODES), rng.randint(1, 10**6)) for i in range(40)]
        usage = [Usage(rng.randrange(40), rng.randint(0, 10**8), NOW - timedelta(seconds=rng.randint(0, 10**7)))
                 for _ in range(300)]
        jobs = [QueuedJob(i, rng.randrange(40), NOW - timedelta(seconds=rng.randint(0, 10**5))) for i in range(200)]
        assert order(states, allocations, usage, jobs) == order(states[::-1], allocations[::-1], usage[::-1],
                                                                jobs[::-1])
