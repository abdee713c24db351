"""The contribution formula (governance/contributions.py): exact shares with their workings."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicommons.governance.contributions import Figures, Parameters, ScaleError, compute_scale

YEARS = (2023, 2024, 2025)


def member(code, nni, gdp=None, status="member"):
    return Figures(code, status, {y: nni for y in YEARS}, {y: gdp for y in YEARS})


def test_shares_are_each_states_average_nni_over_the_sum():
    scale = compute_scale([member("A", 300), member("B", 100), member("C", 600, status="observer")],
                          Parameters(YEARS))
    assert scale.shares == {"A": Decimal("0.750000"), "B": Decimal("0.250000")}, "observers pay nothing"


def test_missing_nni_is_estimated_from_gdp_with_the_average_ratio():
    figures = [member("A", 80, 100), member("B", 90, 100), Figures("C", "member", {}, {y: 200 for y in YEARS})]
    scale = compute_scale(figures, Parameters(YEARS))
    c = next(w for w in scale.states if w.state == "C")
    assert all(y.estimated for y in c.years) and c.average == 170, "200 x mean(0.8, 0.9)"
    assert any("estimated from GDP" in note for note in c.notes)


def test_a_ceiling_redistributes_the_excess_pro_rata():
    scale = compute_scale([member("A", 800), member("B", 150), member("C", 50)],
                          Parameters(YEARS, ceiling=Fraction(1, 2)))
    assert scale.shares == {"A": Decimal("0.5"), "B": Decimal("0.375"), "C": Decimal("0.125")}
    assert "capped" in scale.states[0].notes[0]


def test_associate_members_pay_at_least_the_minimum():
    scale = compute_scale([member("A", 990), member("B", 10, status="associate_member")],
                          Parameters(YEARS, associate_minimum=Fraction(1, 20)))
    assert scale.shares == {"A": Decimal("0.95"), "B": Decimal("0.05")}


def test_a_year_without_any_figure_is_named():
    with pytest.raises(ScaleError) as caught:
        compute_scale([member("A", 1), Figures("B", "member", {2023: 5}, {})], Parameters(YEARS))
    assert caught.value.field == "figures.B.2024"


def test_impossible_bounds_are_refused():
    with pytest.raises(ScaleError) as caught:
        compute_scale([member("A", 1), member("B", 1)], Parameters(YEARS, ceiling=Fraction(1, 3)))
    assert caught.value.field == "ceiling"


@given(st.lists(st.tuples(st.integers(1, 10**7), st.booleans()), min_size=1, max_size=25),
       st.sampled_from([None, Fraction(1, 4), Fraction(2, 5), Fraction(1, 2)]),
       st.sampled_from([None, Fraction(1, 200), Fraction(1, 100)]))
def test_published_shares_add_up_to_exactly_one_and_respect_the_bounds(states, ceiling, floor):
    figures = [member(f"S{i}", nni, status="associate_member" if assoc else "member")
               for i, (nni, assoc) in enumerate(states)]
    params = Parameters(YEARS, ceiling=ceiling, floor=floor, associate_minimum=floor)
    try:
        scale = compute_scale(figures, params)
    except ScaleError:
        assert (ceiling is not None and ceiling * len(states) < 1) or (floor and floor * len(states) > 1)
        return
    assert sum(scale.shares.values()) == 1
    for w in scale.states:
        if ceiling is not None:
            assert w.bounded_share <= ceiling
        if floor is not None:
            assert w.bounded_share >= floor
        assert abs(Fraction(w.share) - w.bounded_share) < Fraction(1, 10**6)


def test_a_floor_and_a_ceiling_together_still_add_up_to_one():
    scale = compute_scale([member("A", 700), member("B", 250), member("C", 50)],
                          Parameters(YEARS, ceiling=Fraction(1, 2), floor=Fraction(3, 10)))
    assert scale.shares == {"A": Decimal("0.4"), "B": Decimal("0.3"), "C": Decimal("0.3")}


def test_a_ceiling_never_makes_a_state_pay_more_than_its_pro_rata_share():
    figures = [member(c, n) for c, n in (("AA", 2600), ("BB", 2400), ("CC", 2400), ("DD", 2400))]
    figures += [member("XA", 100, status="associate_member"), member("XB", 100, status="associate_member")]
    scale = compute_scale(figures, Parameters(YEARS, ceiling=Fraction(1, 4), associate_minimum=Fraction(1, 20)))
    aa = next(w for w in scale.states if w.state == "AA")
    assert aa.bounded_share < Fraction(1, 4) and not any("capped" in n for n in aa.notes)
    assert sum(scale.shares.values()) == 1
