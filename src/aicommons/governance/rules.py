"""Constitution-as-code: decision rules as data, who may vote, and the tally a rule produces.

Pure: no I/O, exact arithmetic (``fractions.Fraction``) so that anyone recomputing a tally from the
ledger gets the same answer bit for bit.

A rule says

* **base** — what the threshold is a fraction *of*: the states present and voting, all states in the
  electorate, or the participants of a programme (the electorate is then narrowed to them);
* **threshold** — the fraction of the base that must vote yes: more than ``1/2`` for a simple majority,
  at least ``2/3`` for two-thirds, all of it for unanimity, or any fraction in (0, 1];
* **tie** — what a count exactly *on* the threshold means (5 yes, 5 no under a simple majority is a tie
  and fails by default; exactly two-thirds passes a two-thirds rule);
* **weighting** — one state one vote, weights by contribution share, or a double majority (the weighted
  threshold *and* the head-count threshold must both be met);
* **quorum** — the fraction of the electorate that must take part for the vote to count at all, as
  "at least" that fraction or, with ``quorum_strict``, "more than" it (a majority of the states);
* **abstentions** — present but not voting (they make the quorum, not the base), counted as no, or
  counted as absent.

Eligibility: only member states vote (associate members and observers do not), and a state whose arrears
exceed the contributions due for the current and the previous year loses its vote unless the council
waived it.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any


class Base(enum.StrEnum):
    PRESENT_AND_VOTING = "present_and_voting"
    ALL_MEMBERS = "all_members"
    PROGRAMME_PARTICIPANTS = "programme_participants"


class Weighting(enum.StrEnum):
    ONE_STATE_ONE_VOTE = "one_state_one_vote"
    CONTRIBUTION = "contribution"
    DOUBLE_MAJORITY = "double_majority"


class Abstentions(enum.StrEnum):
    PRESENT_NOT_VOTING = "present_not_voting"
    COUNT_AS_NO = "count_as_no"
    COUNT_AS_ABSENT = "count_as_absent"


class Tie(enum.StrEnum):
    FAILS = "fails"
    PASSES = "passes"


class Choice(enum.StrEnum):
    YES = "yes"
    NO = "no"
    ABSTAIN = "abstain"


class Outcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NO_QUORUM = "no_quorum"


SIMPLE_MAJORITY = Fraction(1, 2)
TWO_THIRDS = Fraction(2, 3)
UNANIMITY = Fraction(1)


class RuleError(ValueError):
    """A rule that cannot be applied; ``field`` names the part at fault."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


_FRACTION = re.compile(r"\d{1,12}(\.\d{1,12})?(/\d{1,12})?")


def fraction(value: object, field_name: str) -> Fraction:
    """Parse ``"2/3"``, ``"0.5"`` or a whole number into an exact fraction, naming the field on failure.

    Only plain forms with at most 12 digits a part: an exponent such as ``1e-99999999`` would build a
    number of millions of digits before any range check could refuse it.
    """
    if isinstance(value, Fraction):
        return value
    text = str(value).strip()
    if isinstance(value, bool) or not _FRACTION.fullmatch(text):
        raise RuleError(field_name, f"'{value}' is not a fraction such as 2/3 or 0.5")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError) as exc:
        raise RuleError(field_name, f"'{value}' is not a fraction such as 2/3 or 0.5") from exc


def _flag(value: object, field_name: str) -> bool:
    if not isinstance(value, bool):
        raise RuleError(field_name, "must be true or false")
    return value


@dataclass(frozen=True)
class Rule:
    base: Base
    threshold: Fraction
    weighting: Weighting = Weighting.ONE_STATE_ONE_VOTE
    weighted_threshold: Fraction | None = None
    tie: Tie = Tie.FAILS
    quorum: Fraction = Fraction(0)
    quorum_strict: bool = False
    abstentions: Abstentions = Abstentions.PRESENT_NOT_VOTING

    def __post_init__(self) -> None:
        for name in ("threshold", "weighted_threshold"):
            value = getattr(self, name)
            if value is not None and not (0 < value <= 1):
                raise RuleError(name, f"a threshold must lie in (0, 1], not {value}")
        if self.weighting is Weighting.DOUBLE_MAJORITY and self.weighted_threshold is None:
            raise RuleError("weighted_threshold", "a double-majority rule needs a weighted threshold")
        if self.weighting is not Weighting.DOUBLE_MAJORITY and self.weighted_threshold is not None:
            raise RuleError("weighted_threshold", "only a double-majority rule has a separate weighted threshold")
        if not (0 <= self.quorum <= 1):
            raise RuleError("quorum", f"a quorum must lie in [0, 1], not {self.quorum}")
        if UNANIMITY in (self.threshold, self.weighted_threshold) and self.tie is Tie.FAILS:
            raise RuleError("tie", "a threshold of 1 (unanimity) is met only exactly, so a tie must pass")

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base.value, "threshold": str(self.threshold), "weighting": self.weighting.value,
                "weighted_threshold": None if self.weighted_threshold is None else str(self.weighted_threshold),
                "tie": self.tie.value, "quorum": str(self.quorum), "quorum_strict": self.quorum_strict,
                "abstentions": self.abstentions.value}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Rule:
        """Build a rule from its JSON form; every problem is a RuleError naming the field."""
        def pick(name: str, kind: type[enum.StrEnum], default: Any = None) -> Any:
            value = raw.get(name, default)
            try:
                return kind(value)
            except ValueError as exc:
                allowed = ", ".join(k.value for k in kind)
                raise RuleError(name, f"'{value}' is not one of {allowed}") from exc

        if not isinstance(raw, Mapping):
            raise RuleError("rule", "a rule is an object with base, threshold, weighting, ...")
        if "threshold" not in raw:
            raise RuleError("threshold", "a rule needs a threshold")
        weighted = raw.get("weighted_threshold")
        threshold = fraction(raw["threshold"], "threshold")
        # Left out, the tie follows the usual reading: "a majority" is more than half, any other
        # threshold ("two-thirds", "unanimity", "3/5") is met at exactly that fraction.
        default_tie = Tie.FAILS if threshold == SIMPLE_MAJORITY else Tie.PASSES
        return cls(base=pick("base", Base), threshold=threshold,
                   weighting=pick("weighting", Weighting, Weighting.ONE_STATE_ONE_VOTE.value),
                   weighted_threshold=None if weighted is None else fraction(weighted, "weighted_threshold"),
                   tie=pick("tie", Tie, default_tie.value), quorum=fraction(raw.get("quorum", 0), "quorum"),
                   quorum_strict=_flag(raw.get("quorum_strict", False), "quorum_strict"),
                   abstentions=pick("abstentions", Abstentions, Abstentions.PRESENT_NOT_VOTING.value))


def threshold_words(value: Fraction, tie: Tie) -> str:
    if value == UNANIMITY:
        return "unanimity"
    if value == SIMPLE_MAJORITY and tie is Tie.FAILS:
        return "a simple majority (more than half)"
    if value == TWO_THIRDS and tie is Tie.PASSES:
        return "two-thirds"
    return f"{'more than' if tie is Tie.FAILS else 'at least'} {value}"


BASE_WORDS = {Base.PRESENT_AND_VOTING: "of the member states present and voting",
              Base.ALL_MEMBERS: "of all member states entitled to vote",
              Base.PROGRAMME_PARTICIPANTS: "of the member states taking part in the programme"}
ABSTENTION_WORDS = {Abstentions.PRESENT_NOT_VOTING: "abstentions count as present but not voting",
                    Abstentions.COUNT_AS_NO: "abstentions count as votes against",
                    Abstentions.COUNT_AS_ABSENT: "abstentions count as absence"}


def describe(rule: Rule) -> str:
    """The rule in one English sentence, as the constitution page prints it."""
    head = f"{threshold_words(rule.threshold, rule.tie)} {BASE_WORDS[rule.base]}"
    if rule.weighting is Weighting.CONTRIBUTION:
        text = f"{head}, weighted by contribution share"
    elif rule.weighting is Weighting.DOUBLE_MAJORITY:
        assert rule.weighted_threshold is not None
        text = (f"a double majority: {threshold_words(rule.weighted_threshold, rule.tie)} weighted by contribution "
                f"share and {head}, one state one vote")
    else:
        text = f"{head}, one state one vote"
    quorum = (f"; quorum {'more than' if rule.quorum_strict else 'at least'} {rule.quorum} of the electorate"
              if rule.quorum or rule.quorum_strict else "")
    return f"{text[0].upper()}{text[1:]}{quorum}; {ABSTENTION_WORDS[rule.abstentions]}."


# --- eligibility -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """A state's position when voting opens: what decides whether, and with what weight, it votes."""

    state: str
    status: str
    weight: Fraction = Fraction(0)
    arrears_eur: int = 0
    dues_recent_eur: int = 0
    arrears_waived: bool = False


def exclusion(standing: Standing, rule: Rule, participants: frozenset[str] | None) -> str | None:
    """Why a state has no vote on a motion under ``rule``, or None when it has one."""
    if standing.status != "member":
        return f"{standing.status.replace('_', ' ')}s do not vote"
    if standing.arrears_eur > standing.dues_recent_eur and not standing.arrears_waived:
        return (f"arrears of {standing.arrears_eur} EUR exceed the {standing.dues_recent_eur} EUR due for the "
                "current and previous year")
    if rule.base is Base.PROGRAMME_PARTICIPANTS and standing.state not in (participants or frozenset()):
        return "does not take part in the programme"
    return None


def electorate(standings: Iterable[Standing], rule: Rule,
               participants: frozenset[str] | None = None) -> tuple[dict[str, Fraction], dict[str, str]]:
    """The eligible states with their weights, and the excluded ones with the reason."""
    eligible: dict[str, Fraction] = {}
    excluded: dict[str, str] = {}
    for standing in sorted(standings, key=lambda s: s.state):
        reason = exclusion(standing, rule, participants)
        if reason is None:
            eligible[standing.state] = standing.weight
        else:
            excluded[standing.state] = reason
    if not eligible:
        raise RuleError("electorate", "no state is entitled to vote under this rule")
    return eligible, excluded


# --- the tally ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One threshold test: head count or weighted."""

    measure: str
    in_favour: Fraction
    base: Fraction
    threshold: Fraction
    passed: bool

    def explain(self) -> str:
        share = "no votes in the base" if self.base == 0 else f"{float(self.in_favour / self.base):.2%}"
        needed = f"{float(self.threshold):.2%}"
        return (f"{self.measure}: {_num(self.in_favour)} in favour of a base of {_num(self.base)} = {share}; "
                f"threshold {needed} ({self.threshold}); {'met' if self.passed else 'not met'}")


def exact_str(value: Fraction) -> str:
    """A weight as a decimal string when it has one ("0.019237"), else as a fraction ("1/3"). Exact both ways."""
    numerator, denominator = value.numerator, value.denominator
    places = 0
    while denominator % 2 == 0 or denominator % 5 == 0:
        scale = 10 // math.gcd(denominator, 10)
        numerator, denominator = numerator * scale, denominator * scale // 10
        places += 1
    if denominator != 1:
        return str(value)
    text = str(abs(numerator)).rjust(places + 1, "0")
    sign = "-" if numerator < 0 else ""
    return f"{sign}{text[:-places]}.{text[-places:]}" if places else f"{sign}{text}"


def _num(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.6f}"


@dataclass(frozen=True)
class Tally:
    rule: Rule
    eligible: dict[str, Fraction]
    ballots: dict[str, Choice]
    ignored: tuple[str, ...]
    counts: dict[str, int]
    taking_part: int
    quorum_needed: Fraction
    quorum_met: bool
    parts: tuple[Part, ...]
    outcome: Outcome
    workings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule.to_dict(), "eligible": {s: exact_str(w) for s, w in self.eligible.items()},
                "ballots": {s: c.value for s, c in sorted(self.ballots.items())}, "ignored": list(self.ignored),
                "counts": self.counts, "taking_part": self.taking_part, "quorum_needed": str(self.quorum_needed),
                "quorum_met": self.quorum_met,
                "parts": [{"measure": p.measure, "in_favour": exact_str(p.in_favour), "base": exact_str(p.base),
                           "threshold": str(p.threshold), "passed": p.passed} for p in self.parts],
                "outcome": self.outcome.value, "workings": list(self.workings)}


def _meets(in_favour: Fraction, base: Fraction, threshold: Fraction, tie: Tie) -> bool:
    if base == 0:
        return False
    share = in_favour / base
    return share > threshold or (share == threshold and tie is Tie.PASSES)


def tally(rule: Rule, eligible: Mapping[str, Fraction], ballots: Mapping[str, Choice | str]) -> Tally:
    """Apply ``rule`` to the final ballot of each state; ballots of states outside ``eligible`` are ignored."""
    if not eligible:
        raise RuleError("electorate", "no state is entitled to vote under this rule")
    counted = {s: Choice(c) for s, c in ballots.items() if s in eligible}
    ignored = tuple(sorted(s for s in ballots if s not in eligible))
    choice_of = {s: counted.get(s) for s in eligible}

    def present(choice: Choice | None) -> bool:
        return choice is not None and not (choice is Choice.ABSTAIN and rule.abstentions is Abstentions.COUNT_AS_ABSENT)

    def in_base(choice: Choice | None) -> bool:
        if rule.base is not Base.PRESENT_AND_VOTING:
            return True
        if choice is Choice.ABSTAIN:
            return rule.abstentions is Abstentions.COUNT_AS_NO
        return choice is not None

    taking_part = sum(1 for c in choice_of.values() if present(c))
    quorum_needed = rule.quorum * len(eligible)
    quorum_met = taking_part > quorum_needed if rule.quorum_strict else taking_part >= quorum_needed
    yes = [s for s, c in choice_of.items() if c is Choice.YES]
    base = [s for s, c in choice_of.items() if in_base(c)]

    parts: list[Part] = []
    if rule.weighting in (Weighting.ONE_STATE_ONE_VOTE, Weighting.DOUBLE_MAJORITY):
        parts.append(Part("states", Fraction(len(yes)), Fraction(len(base)), rule.threshold,
                          _meets(Fraction(len(yes)), Fraction(len(base)), rule.threshold, rule.tie)))
    if rule.weighting in (Weighting.CONTRIBUTION, Weighting.DOUBLE_MAJORITY):
        threshold = rule.weighted_threshold if rule.weighting is Weighting.DOUBLE_MAJORITY else rule.threshold
        assert threshold is not None
        weight_yes = sum((eligible[s] for s in yes), Fraction(0))
        weight_base = sum((eligible[s] for s in base), Fraction(0))
        parts.append(Part("contribution weight", weight_yes, weight_base, threshold,
                          _meets(weight_yes, weight_base, threshold, rule.tie)))

    if not quorum_met:
        outcome = Outcome.NO_QUORUM
    else:
        outcome = Outcome.PASSED if all(p.passed for p in parts) else Outcome.FAILED
    counts = {choice.value: sum(1 for c in choice_of.values() if c is choice) for choice in Choice}
    counts["absent"] = sum(1 for c in choice_of.values() if c is None)
    workings = [f"Rule: {describe(rule)}",
                f"Electorate: {len(eligible)} states; {counts['yes']} yes, {counts['no']} no, "
                f"{counts['abstain']} abstain, {counts['absent']} did not vote.",
                f"Quorum: {taking_part} took part, {'more than ' if rule.quorum_strict else ''}{_num(quorum_needed)} "
                f"needed; {'met' if quorum_met else 'not met'}."]
    workings += [p.explain() for p in parts]
    if ignored:
        workings.append(f"Ballots of states without a vote were not counted: {', '.join(ignored)}.")
    workings.append(f"Outcome: {outcome.value.replace('_', ' ')}.")
    return Tally(rule=rule, eligible=dict(eligible), ballots=counted, ignored=ignored, counts=counts,
                 taking_part=taking_part, quorum_needed=quorum_needed, quorum_met=quorum_met, parts=tuple(parts),
                 outcome=outcome, workings=tuple(workings))


# --- the shipped constitution ------------------------------------------------------------------


class MotionKind(enum.StrEnum):
    POLICY = "policy"
    BUDGET = "budget"
    CONTRIBUTION_SCALE = "contribution_scale"
    ADMISSION = "admission"
    CONSTITUTION_AMENDMENT = "constitution_amendment"
    CALL_APPROVAL = "call_approval"
    SLATE_APPROVAL = "slate_approval"


ORDINARY = Rule(base=Base.PRESENT_AND_VOTING, threshold=SIMPLE_MAJORITY, quorum=SIMPLE_MAJORITY, quorum_strict=True)
TWO_THIRDS_PRESENT = replace(ORDINARY, threshold=TWO_THIRDS, tie=Tie.PASSES)
TWO_THIRDS_ALL = replace(TWO_THIRDS_PRESENT, base=Base.ALL_MEMBERS)
UNANIMOUS_ALL = replace(TWO_THIRDS_ALL, threshold=UNANIMITY)

# CERN's Convention as data: ordinary decisions by a simple majority of the states present and voting,
# the budget by two-thirds of those present and voting, the contribution scale by two-thirds of all member
# states, admission of a new member by unanimity of all members. Amending the constitution needs
# two-thirds of all members. Quorum: a majority of the member states entitled to vote.
DEFAULT_RULES: dict[MotionKind, Rule] = {
    MotionKind.POLICY: ORDINARY,
    MotionKind.CALL_APPROVAL: ORDINARY,
    MotionKind.SLATE_APPROVAL: ORDINARY,
    MotionKind.BUDGET: TWO_THIRDS_PRESENT,
    MotionKind.CONTRIBUTION_SCALE: TWO_THIRDS_ALL,
    MotionKind.ADMISSION: UNANIMOUS_ALL,
    MotionKind.CONSTITUTION_AMENDMENT: TWO_THIRDS_ALL,
}
DEFAULT_NOTICE_DAYS = 14


def rules_from_dict(raw: Mapping[str, Any]) -> dict[MotionKind, Rule]:
    """A whole constitution's rules from JSON; every motion kind must have one."""
    if not isinstance(raw, Mapping):
        raise RuleError("rules", "the rules are an object of motion kind -> rule")
    out: dict[MotionKind, Rule] = {}
    for kind in MotionKind:
        if kind.value not in raw:
            raise RuleError(f"rules.{kind.value}", f"the constitution needs a rule for '{kind.value}' motions")
        try:
            out[kind] = Rule.from_dict(raw[kind.value])
        except RuleError as exc:
            raise RuleError(f"rules.{kind.value}.{exc.field}", str(exc)) from exc
    unknown = set(raw) - {k.value for k in MotionKind}
    if unknown:
        raise RuleError("rules", f"unknown motion kinds: {', '.join(sorted(unknown))}")
    return out


def rules_to_dict(rules: Mapping[MotionKind, Rule]) -> dict[str, Any]:
    return {kind.value: rules[kind].to_dict() for kind in MotionKind}
