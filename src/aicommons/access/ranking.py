"""Scoring reviewed proposals and ranking them. Pure, exact: every score is a ``Fraction``, never a float.

Score. A rubric is a list of criteria, each with a positive integer weight; reviewers give each criterion
a whole score from 1 to 5. A proposal's weighted score is

    sum over criteria of (weight x mean score of that criterion across its reviews) / sum of weights

so it lies in [1, 5] and two proposals with the same reviews always get the same exact score.

Disagreement. ``spread`` is the largest gap, max - min, between the reviewers' scores on any single
criterion. We take the per-criterion gap rather than the gap between the reviewers' overall scores because
two reviewers can disagree sharply on excellence and in the opposite direction on safety and still reach
the same overall score; the per-criterion gap shows that, and it is a whole number. A proposal is flagged
for discussion when its spread is at least the threshold (default 2: one reviewer says 2, another 4).

Order (``rank``), applied overall and, separately, within each track:

1. higher weighted score;
2. then higher mean score on the rubric's first criterion (excellence by default);
3. then smaller spread (reviewers who agree);
4. then earlier submission (``submitted_at`` compared as instants, whatever the UTC offset written);
5. then lower proposal id, so that the order is total and the same on every machine.

Proposals scoring below the funding threshold (default 3) are ranked like the others but marked not
fundable; the slate (``slate.py``) never awards them hours.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

SCORE_MIN = 1
SCORE_MAX = 5
DEFAULT_FUNDING_THRESHOLD = Fraction(3)
DEFAULT_DISAGREEMENT_THRESHOLD = 2


class RankingError(ValueError):
    """Input that cannot be scored or ranked; ``field`` names the part at fault."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


class ScoreError(RankingError):
    """A review's score for one criterion is missing, unknown or out of range; ``field`` is the criterion."""


@dataclass(frozen=True)
class Criterion:
    name: str
    weight: int


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[Criterion, ...]

    def __post_init__(self) -> None:
        if not self.criteria:
            raise RankingError("criteria", "a rubric needs at least one criterion")
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names):
            raise RankingError("criteria", "criterion names must be different")
        for c in self.criteria:
            if not isinstance(c.name, str) or not c.name:
                raise RankingError("criteria", "every criterion needs a name")
            if isinstance(c.weight, bool) or not isinstance(c.weight, int) or c.weight < 1:
                raise RankingError(f"criteria.{c.name}", f"weight of {c.name} must be a positive whole number")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.criteria)

    @property
    def lead(self) -> str:
        """The criterion that breaks ties in score: the first one."""
        return self.criteria[0].name

    def to_dict(self) -> dict:
        return {"criteria": [{"name": c.name, "weight": c.weight} for c in self.criteria]}

    @classmethod
    def from_dict(cls, data: Mapping) -> Rubric:
        return cls(tuple(Criterion(c["name"], c["weight"]) for c in data["criteria"]))


DEFAULT_RUBRIC = Rubric((Criterion("excellence", 30), Criterion("impact", 25), Criterion("feasibility", 20),
                         Criterion("openness", 15), Criterion("safety", 10)))


def validate_scores(rubric: Rubric, scores: Mapping[str, int]) -> None:
    """Refuse a review unless it scores every criterion of the rubric, and only those, 1 to 5."""
    for name in rubric.names:
        if name not in scores:
            raise ScoreError(name, f"no score for {name}")
        value = scores[name]
        if isinstance(value, bool) or not isinstance(value, int) or not SCORE_MIN <= value <= SCORE_MAX:
            raise ScoreError(name, f"score for {name} must be a whole number from {SCORE_MIN} to {SCORE_MAX}")
    for name in sorted(set(scores) - set(rubric.names)):
        raise ScoreError(name, f"{name} is not a criterion of this rubric")


def _checked(rubric: Rubric, reviews: Sequence[Mapping[str, int]]) -> Sequence[Mapping[str, int]]:
    if not reviews:
        raise RankingError("reviews", "a proposal needs at least one review to be scored")
    for review in reviews:
        validate_scores(rubric, review)
    return reviews


def criterion_means(rubric: Rubric, reviews: Sequence[Mapping[str, int]]) -> dict[str, Fraction]:
    """The mean score of each criterion across the reviews, in rubric order."""
    reviews = _checked(rubric, reviews)
    return {name: Fraction(sum(r[name] for r in reviews), len(reviews)) for name in rubric.names}


def weighted_score(rubric: Rubric, reviews: Sequence[Mapping[str, int]]) -> Fraction:
    means = criterion_means(rubric, reviews)
    total_weight = sum(c.weight for c in rubric.criteria)
    return sum((c.weight * means[c.name] for c in rubric.criteria), Fraction(0)) / total_weight


def spread(rubric: Rubric, reviews: Sequence[Mapping[str, int]]) -> int:
    """The largest max - min gap between reviewers on any one criterion (0 for a single review)."""
    reviews = _checked(rubric, reviews)
    return max(max(r[name] for r in reviews) - min(r[name] for r in reviews) for name in rubric.names)


def flagged(spread_points: int, threshold: int = DEFAULT_DISAGREEMENT_THRESHOLD) -> bool:
    """Whether reviewers disagree enough for the panel to discuss the proposal before it is ranked."""
    return spread_points >= threshold


def instant(rfc3339_text: str, field_name: str = "submitted_at") -> datetime:
    """An RFC 3339 timestamp as an aware datetime; naive or malformed text is refused."""
    try:
        moment = datetime.fromisoformat(rfc3339_text)
    except (TypeError, ValueError) as exc:
        raise RankingError(field_name, f"'{rfc3339_text}' is not an RFC 3339 timestamp") from exc
    if moment.tzinfo is None:
        raise RankingError(field_name, f"'{rfc3339_text}' has no UTC offset")
    return moment


@dataclass(frozen=True)
class RankingEntry:
    """What ranking needs to know about one reviewed proposal."""

    proposal_id: int
    track: str
    score: Fraction
    criterion_means: Mapping[str, Fraction]
    spread: int
    submitted_at: str


def score_entry(*, proposal_id: int, track: str, submitted_at: str, reviews: Sequence[Mapping[str, int]],
                rubric: Rubric = DEFAULT_RUBRIC) -> RankingEntry:
    """Score one proposal's reviews into an entry ready for ``rank``."""
    return RankingEntry(proposal_id, track, weighted_score(rubric, reviews), criterion_means(rubric, reviews),
                        spread(rubric, reviews), submitted_at)


@dataclass(frozen=True)
class RankedEntry:
    proposal_id: int
    track: str
    score: Fraction
    criterion_means: Mapping[str, Fraction]
    spread: int
    submitted_at: str
    rank: int  # 1-based, over all tracks
    track_rank: int  # 1-based, within the proposal's track
    fundable: bool

    def to_dict(self) -> dict:
        return {"proposal_id": self.proposal_id, "track": self.track, "score": str(self.score),
                "criterion_means": {k: str(v) for k, v in self.criterion_means.items()},
                "spread": self.spread, "submitted_at": self.submitted_at, "rank": self.rank,
                "track_rank": self.track_rank, "fundable": self.fundable}

    @classmethod
    def from_dict(cls, data: Mapping) -> RankedEntry:
        return cls(data["proposal_id"], data["track"], parse_fraction(data["score"], "score"),
                   {k: parse_fraction(v, f"criterion_means.{k}") for k, v in data["criterion_means"].items()},
                   data["spread"], data["submitted_at"], data["rank"], data["track_rank"], data["fundable"])


def rank(entries: Iterable[RankingEntry], *, rubric: Rubric = DEFAULT_RUBRIC,
         funding_threshold: Fraction = DEFAULT_FUNDING_THRESHOLD) -> list[RankedEntry]:
    """Every entry with its overall and in-track rank, best first, by the order in the module docstring."""
    entries = list(entries)
    seen: set[int] = set()
    for entry in entries:
        if entry.proposal_id in seen:
            raise RankingError("proposal_id", f"proposal {entry.proposal_id} appears twice")
        seen.add(entry.proposal_id)
        if rubric.lead not in entry.criterion_means:
            raise RankingError("criterion_means", f"proposal {entry.proposal_id} has no mean for {rubric.lead}")

    def order(entry: RankingEntry) -> tuple:
        return (-entry.score, -entry.criterion_means[rubric.lead], entry.spread,
                instant(entry.submitted_at), entry.proposal_id)

    in_track: dict[str, int] = defaultdict(int)
    ranked: list[RankedEntry] = []
    for position, entry in enumerate(sorted(entries, key=order), start=1):
        in_track[entry.track] += 1
        ranked.append(RankedEntry(entry.proposal_id, entry.track, entry.score, dict(entry.criterion_means),
                                  entry.spread, entry.submitted_at, position, in_track[entry.track],
                                  entry.score >= funding_threshold))
    return ranked


# Plain forms only, each part at most 40 digits: an exponent such as 1e-99999999 would build a number of
# millions of digits before any range check could refuse it.
_FRACTION = re.compile(r"\d{1,40}(\.\d{1,40}|/0*[1-9]\d{0,39})?")


def parse_fraction(value: object, field_name: str,
                   error: Callable[[str, str], ValueError] = RankingError) -> Fraction:
    """``"7/2"``, ``"3.5"``, ``"3"`` or a whole number as an exact fraction; floats are refused as inexact."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return Fraction(value)
    text = value.strip() if isinstance(value, str) else ""
    if not _FRACTION.fullmatch(text):
        raise error(field_name, f"'{value}' is not an exact non-negative number such as 7/2 or 0.05")
    return Fraction(text)
