"""The contribution scale: each contributing state's share of the budget, with its workings. Pure, exact.

The formula (published on the contributions page):

1. For each contributing state (members and associate members; observers pay nothing) and each of the
   three reference years take the net national income (NNI). Where NNI is missing, estimate it as
   GDP times the average NNI/GDP ratio of the contributing states that reported both that year.
2. Average the three years.
3. Raw share = the state's average ÷ the sum of all contributing states' averages.
4. Bounds: members between the optional floor and ceiling, associate members at least the associate
   minimum (and at most the ceiling). A state outside its bounds is set to the bound and the difference
   is spread over the states inside theirs, in proportion to their raw shares, until every state is in
   bounds.
5. Shares are published with six decimals (parts per million), rounded by the largest-remainder method so
   that they add up to exactly 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

PUBLISHED_PLACES = 6
CONTRIBUTING = ("member", "associate_member")


class ScaleError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class Figures:
    """One state's figures in millions of euros, by year; None where not reported."""

    state: str
    status: str
    nni: Mapping[int, int | None]
    gdp: Mapping[int, int | None]


@dataclass(frozen=True)
class Parameters:
    years: tuple[int, ...]
    ceiling: Fraction | None = None
    floor: Fraction | None = None
    associate_minimum: Fraction | None = None

    def __post_init__(self) -> None:
        if len(self.years) != 3 or len(set(self.years)) != 3:
            raise ScaleError("years", "give three different reference years")
        for name in ("ceiling", "floor", "associate_minimum"):
            value = getattr(self, name)
            if value is not None and not (0 < value <= 1):
                raise ScaleError(name, f"must lie in (0, 1], not {value}")
        if self.ceiling is not None and self.floor is not None and self.floor > self.ceiling:
            raise ScaleError("floor", "the floor is above the ceiling")


@dataclass
class YearWorking:
    year: int
    nni: int | None
    gdp: int | None
    used: Fraction
    estimated: bool


@dataclass
class StateWorking:
    state: str
    status: str
    years: list[YearWorking]
    average: Fraction
    raw_share: Fraction
    bounded_share: Fraction = Fraction(0)
    share: Decimal = Decimal(0)
    notes: list[str] = field(default_factory=list)


@dataclass
class Scale:
    parameters: Parameters
    ratios: dict[int, Fraction]
    states: list[StateWorking]

    @property
    def shares(self) -> dict[str, Decimal]:
        return {w.state: w.share for w in self.states}


def _ratios(figures: Sequence[Figures], years: Sequence[int]) -> dict[int, Fraction]:
    ratios: dict[int, Fraction] = {}
    for year in years:
        pairs = [(f.nni.get(year), f.gdp.get(year)) for f in figures]
        both = [Fraction(n, g) for n, g in pairs if n is not None and g]
        if both:
            ratios[year] = sum(both, Fraction(0)) / len(both)
    return ratios


def _bounds(status: str, params: Parameters) -> tuple[Fraction, Fraction]:
    upper = params.ceiling if params.ceiling is not None else Fraction(1)
    minimum = params.associate_minimum if status == "associate_member" else params.floor
    lower = minimum or Fraction(0)
    return lower, upper


def _apply_bounds(raw: dict[str, Fraction], bounds: dict[str, tuple[Fraction, Fraction]]) -> dict[str, Fraction]:
    """Shares proportional to ``raw`` except where a bound holds them, adding up to exactly 1.

    Finds the one scale factor L with sum(clamp(L * raw, lower, upper)) = 1. That sum grows with L and is
    linear between the points where some state reaches a bound, so L is exact: find the segment, solve.
    """
    if sum(lo for lo, _ in bounds.values()) > 1:
        raise ScaleError("floor", "the floors and associate minimums add up to more than the whole budget")
    if sum(hi for _, hi in bounds.values()) < 1:
        raise ScaleError("ceiling", "with this ceiling the shares cannot add up to the whole budget")

    def clamp(state: str, factor: Fraction) -> Fraction:
        lo, hi = bounds[state]
        return min(max(factor * raw[state], lo), hi)

    def total(factor: Fraction) -> Fraction:
        return sum((clamp(s, factor) for s in raw), Fraction(0))

    points = sorted({b / raw[s] for s in raw for b in bounds[s]})
    low = Fraction(0)
    for high in points:
        if total(high) >= 1:
            break
        low = high
    else:  # pragma: no cover - unreachable: at the last point every state sits at its ceiling
        raise ScaleError("ceiling", "the bounds could not be satisfied together")
    middle = (low + high) / 2
    free = [s for s in raw if bounds[s][0] < middle * raw[s] < bounds[s][1]]
    held = sum((clamp(s, middle) for s in raw if s not in free), Fraction(0))
    free_raw = sum((raw[s] for s in free), Fraction(0))
    factor = high if free_raw == 0 else (1 - held) / free_raw
    return {s: clamp(s, factor) for s in raw}


def _publish(shares: dict[str, Fraction]) -> dict[str, Decimal]:
    """Round to parts per million so the published shares add up to exactly one (largest remainder)."""
    unit = 10 ** PUBLISHED_PLACES
    floors = {s: (v * unit).numerator // (v * unit).denominator for s, v in shares.items()}
    leftover = unit - sum(floors.values())
    by_remainder = sorted(shares, key=lambda s: (-(shares[s] * unit - floors[s]), s))
    for s in by_remainder[:leftover]:
        floors[s] += 1
    return {s: Decimal(n).scaleb(-PUBLISHED_PLACES) for s, n in floors.items()}


def compute_scale(figures: Sequence[Figures], params: Parameters) -> Scale:
    """Every contributing state's share, with the numbers behind it."""
    contributing = [f for f in figures if f.status in CONTRIBUTING]
    if not contributing:
        raise ScaleError("member_states", "there are no member or associate member states to share the budget")
    ratios = _ratios(contributing, params.years)
    workings: list[StateWorking] = []
    for fig in sorted(contributing, key=lambda f: f.state):
        years: list[YearWorking] = []
        for year in params.years:
            nni, gdp = fig.nni.get(year), fig.gdp.get(year)
            if nni is not None:
                years.append(YearWorking(year, nni, gdp, Fraction(nni), False))
            elif gdp is not None and year in ratios:
                years.append(YearWorking(year, None, gdp, gdp * ratios[year], True))
            else:
                raise ScaleError(f"figures.{fig.state}.{year}", f"{fig.state} has no NNI or GDP figure for {year}")
        average = sum((y.used for y in years), Fraction(0)) / len(years)
        workings.append(StateWorking(fig.state, fig.status, years, average, Fraction(0)))
    total = sum((w.average for w in workings), Fraction(0))
    for w in workings:
        w.raw_share = w.average / total
    bounds = {w.state: _bounds(w.status, params) for w in workings}
    bounded = _apply_bounds({w.state: w.raw_share for w in workings}, bounds)
    published = _publish(bounded)
    for w in workings:
        w.bounded_share = bounded[w.state]
        w.share = published[w.state]
        lo, hi = bounds[w.state]
        if bounded[w.state] == hi and hi < 1 and w.raw_share >= hi:
            w.notes.append(f"capped at the ceiling of {float(hi):.2%}")
        elif bounded[w.state] == lo and w.raw_share < lo:
            what = "associate minimum" if w.status == "associate_member" else "floor"
            w.notes.append(f"raised to the {what} of {float(lo):.2%}")
        elif bounded[w.state] != w.raw_share:
            w.notes.append("adjusted pro rata for the states at a bound")
        if any(y.estimated for y in w.years):
            w.notes.append("NNI estimated from GDP for " + ", ".join(str(y.year) for y in w.years if y.estimated))
    return Scale(params, ratios, workings)


def scale_to_dict(scale: Scale) -> dict:
    """The scale as JSON, with every number as an exact string."""
    p = scale.parameters
    return {
        "parameters": {"years": list(p.years), "ceiling": _opt(p.ceiling), "floor": _opt(p.floor),
                       "associate_minimum": _opt(p.associate_minimum)},
        "ratios": {str(year): f"{float(r):.6f}" for year, r in scale.ratios.items()},
        "states": [{"state": w.state, "status": w.status, "share": str(w.share),
                    "average_million_eur": f"{float(w.average):.1f}", "raw_share": f"{float(w.raw_share):.6f}",
                    "years": [{"year": y.year, "nni": y.nni, "gdp": y.gdp, "used": f"{float(y.used):.1f}",
                               "estimated": y.estimated} for y in w.years],
                    "notes": w.notes} for w in scale.states],
    }


def _opt(value: Fraction | None) -> str | None:
    return None if value is None else str(value)
