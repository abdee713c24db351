"""The local engine's queue order: member-state fair share, ranked as Slurm's Fair Tree does. Pure and exact.

Tree. The same two levels the Slurm engine gives its account tree (issue 6), without users::

    root ─▶ member state (share = its contribution share) ─▶ allocation (share = its budget in GPU-seconds)

Decayed usage. Every finished job charges its allocation; a charge of ``g`` GPU-seconds that ended ``a``
before ``now`` counts ``g x 2^(-a / half_life)`` (Slurm's ``PriorityDecayHalfLife``, default 7 days here
as there). A state's usage is the sum of its allocations'. A charge that ends after ``now`` counts in full
(age 0), so a clock slightly behind the engine's never inflates usage; one older than
``FORGET_AFTER_HALF_LIVES`` half-lives counts 0 (it would weigh less than 2^-256 of itself).

Level fairshare (Slurm's "LF", https://slurm.schedmd.com/fair_tree.html). Among siblings (all states; the
allocations of one state)::

    S  = share / sum of the siblings' shares            (0 when every sibling's share is 0)
    U  = decayed usage / sum of the siblings' usage     (0 when no sibling has usage)
    LF = S / U

with the edges made explicit: a share of 0 gives LF = 0 whatever the usage (no claim on the machine); a
positive share with U = 0 gives LF = infinity (``None`` in ``Standing``), as Slurm's ``sshare`` shows
for an association without usage. Siblings rank by

    1. higher LF (infinity first);
    2. then the larger share S;
    3. then the smaller decayed usage (it only separates siblings of share 0: equal S > 0 and equal LF
       already mean equal U);
    4. then the key: state code, allocation id, so the order is total and the same on every machine.

Slurm merges the children of tied siblings and sorts them together; we break the tie instead (rules 2-4),
which keeps the traversal a plain tree walk and the order explainable in one line.

Queue order. Depth first, as Fair Tree assigns its ranks: the states in rank order; inside each state, its
allocations in rank order; inside each allocation, its queued jobs oldest first (``submitted_at`` compared
as instants), then by job id. Normalising S and U does not change the order (the sibling sums are common
factors); it makes the values read like ``sshare -l``'s Norm Shares, Norm Usage and Level FS.

Exactness. 2^(-a/h) is irrational for most ages, so it cannot be a ``Fraction``. Split the age in whole
half-lives ``q`` and a remainder ``r`` (microseconds, from ``timedelta`` arithmetic, exact). The whole part
is 2^-q, exact. The remainder's factor 2^(-r/h) is replaced by ``F / 2^64`` where the integer ``F`` comes
from integer arithmetic only (``_fraction_factor``: the first 128 bits of r/h select square roots of 1/2
taken with ``math.isqrt`` at 128 fractional bits, multiplied together, rounded to 64 bits), so

    |F / 2^64 - 2^(-r/h)| < 2^-64           and a charge decays to   Fraction(g x F, 2^(64 + q))

Every step is integer arithmetic, so the value is identical on every machine and Python version, and a
further whole half-life halves a decayed charge exactly (the same ``F``, one more power of two).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

DEFAULT_HALF_LIFE = timedelta(days=7)  # Slurm's default PriorityDecayHalfLife
FACTOR_BITS = 64  # precision of 2^(-r/h): |error| < 2^-FACTOR_BITS
FORGET_AFTER_HALF_LIVES = 256
_WORK_BITS = 128  # guard bits: the rounding errors of 128 products stay far below 2^-FACTOR_BITS
_EXPONENT_BITS = 128  # bits of r/h used; truncating it costs less than ln 2 x 2^-128 relative
_ONE_MICROSECOND = timedelta(microseconds=1)


class FairshareError(ValueError):
    """Input the queue cannot be ordered from; ``field`` names the part at fault."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class MemberState:
    code: str
    share: Fraction  # contribution share; only ratios between states matter


@dataclass(frozen=True)
class Allocation:
    id: int
    state: str  # member state code
    budget_gpu_seconds: int  # its share weight inside the state


@dataclass(frozen=True)
class Usage:
    """One finished (or settled) job's charge to an allocation."""

    allocation: int
    gpu_seconds: int
    ended_at: datetime


@dataclass(frozen=True)
class QueuedJob:
    id: int
    allocation: int
    submitted_at: datetime


@dataclass(frozen=True)
class Standing:
    """One node of the tree as ranked among its siblings, for display (``sshare -l`` shows the same)."""

    key: str | int  # state code or allocation id
    parent: str | None  # the state of an allocation; None for a state
    share: Fraction  # S, normalised among siblings
    usage: Fraction  # decayed GPU-seconds
    normalised_usage: Fraction  # U, normalised among siblings
    level_fairshare: Fraction | None  # LF = S / U; None means infinite (positive share, no usage)
    rank: int  # 1 = first among its siblings


@dataclass(frozen=True)
class QueueOrder:
    job_ids: tuple[int, ...]  # the order to start jobs in
    states: tuple[Standing, ...]  # in rank order
    allocations: tuple[Standing, ...]  # depth first: each state's allocations in rank order, states in order


def _square_roots_of_half(count: int) -> tuple[int, ...]:
    """2^(-2^-i) for i = 1..count as integers over 2^_WORK_BITS, each the isqrt of the one before."""
    value, roots = 1 << (_WORK_BITS - 1), []
    for _ in range(count):
        value = math.isqrt(value << _WORK_BITS)
        roots.append(value)
    return tuple(roots)


_ROOTS = _square_roots_of_half(_EXPONENT_BITS)


def _fraction_factor(remainder_us: int, half_life_us: int) -> int:
    """``F`` with |F / 2^64 - 2^(-remainder/half_life)| < 2^-64, for 0 <= remainder < half_life."""
    bits = (remainder_us << _EXPONENT_BITS) // half_life_us  # r/h in binary, 128 places, rounded down
    value = 1 << _WORK_BITS
    for place, root in enumerate(_ROOTS):
        if bits >> (_EXPONENT_BITS - 1 - place) & 1:  # bit 2^-(place+1) of r/h set: times 2^(-2^-(place+1))
            value = value * root >> _WORK_BITS
    shift = _WORK_BITS - FACTOR_BITS
    return (value + (1 << (shift - 1))) >> shift


def _aware(moment: datetime, field_name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise FairshareError(field_name, f"{field_name} must be a timezone-aware datetime")
    return moment


def _half_life_us(half_life: timedelta) -> int:
    if not isinstance(half_life, timedelta) or half_life < _ONE_MICROSECOND:
        raise FairshareError("half_life", "the half-life must be a positive duration")
    return half_life // _ONE_MICROSECOND


def _gpu_seconds(value: int, allocation: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FairshareError("usage.gpu_seconds", f"usage of allocation {allocation} must be a whole, non-negative "
                             "number of GPU-seconds")
    return value


def _decay_terms(gpu_seconds: int, age: timedelta, half_life_us: int) -> tuple[int, int]:
    """(numerator, whole half-lives): the charge decays to numerator / 2^(FACTOR_BITS + whole)."""
    age_us = max(0, age // _ONE_MICROSECOND)
    whole, remainder = divmod(age_us, half_life_us)
    if whole >= FORGET_AFTER_HALF_LIVES or gpu_seconds == 0:
        return 0, 0
    return gpu_seconds * _fraction_factor(remainder, half_life_us), whole


def decayed(gpu_seconds: int, age: timedelta, half_life: timedelta = DEFAULT_HALF_LIFE) -> Fraction:
    """What ``gpu_seconds`` charged ``age`` ago count for now: g x 2^(-age/half_life), to 2^-64 relative."""
    numerator, whole = _decay_terms(_gpu_seconds(gpu_seconds, None), age, _half_life_us(half_life))
    return Fraction(numerator, 1 << (FACTOR_BITS + whole))


def decayed_usage(usage: Iterable[Usage], *, now: datetime,
                  half_life: timedelta = DEFAULT_HALF_LIFE) -> dict[int, Fraction]:
    """Each charged allocation's decayed usage in GPU-seconds, exactly the sum of ``decayed`` per charge."""
    now, half_life_us = _aware(now, "now"), _half_life_us(half_life)
    # One common denominator 2^(64 + 255) keeps the sum an integer until the end: fast and exact.
    top = FORGET_AFTER_HALF_LIVES - 1
    totals: dict[int, int] = defaultdict(int)
    for charge in usage:
        age = now - _aware(charge.ended_at, "usage.ended_at")
        numerator, whole = _decay_terms(_gpu_seconds(charge.gpu_seconds, charge.allocation), age, half_life_us)
        totals[charge.allocation] += numerator << (top - whole)
    return {allocation: Fraction(total, 1 << (FACTOR_BITS + top)) for allocation, total in totals.items()}


def _rank_siblings(siblings: list[tuple[Hashable, Fraction, Fraction]], parent: str | None) -> list[Standing]:
    """(key, raw share, decayed usage) of each sibling, ranked by the rules in the module docstring."""
    total_share = sum((share for _, share, _ in siblings), Fraction(0))
    total_usage = sum((used for _, _, used in siblings), Fraction(0))
    rows = []
    for key, share, used in siblings:
        s = share / total_share if total_share else Fraction(0)
        u = used / total_usage if total_usage else Fraction(0)
        level = Fraction(0) if s == 0 else (None if u == 0 else s / u)
        rows.append((key, s, used, u, level))
    rows.sort(key=lambda r: (r[4] is not None, -(r[4] or 0), -r[1], r[2], r[0]))
    return [Standing(key, parent, s, used, u, level, position)
            for position, (key, s, used, u, level) in enumerate(rows, start=1)]


def _validated(states: Iterable[MemberState], allocations: Iterable[Allocation],
               jobs: Iterable[QueuedJob]) -> tuple[dict[str, Fraction], dict[int, Allocation], list[QueuedJob]]:
    shares: dict[str, Fraction] = {}
    for state in states:
        if state.code in shares:
            raise FairshareError("states.code", f"member state {state.code} is listed twice")
        if isinstance(state.share, bool) or not isinstance(state.share, int | Fraction) or state.share < 0:
            raise FairshareError("states.share", f"the share of {state.code} must be a non-negative Fraction")
        shares[state.code] = Fraction(state.share)
    by_id: dict[int, Allocation] = {}
    for allocation in allocations:
        if allocation.id in by_id:
            raise FairshareError("allocations.id", f"allocation {allocation.id} is listed twice")
        if allocation.state not in shares:
            raise FairshareError("allocations.state", f"allocation {allocation.id} belongs to unknown member "
                                 f"state {allocation.state}")
        budget = allocation.budget_gpu_seconds
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise FairshareError("allocations.budget_gpu_seconds", f"the budget of allocation {allocation.id} "
                                 "must be a whole, non-negative number of GPU-seconds")
        by_id[allocation.id] = allocation
    queued, seen = list(jobs), set()
    for job in queued:
        if job.id in seen:
            raise FairshareError("jobs.id", f"job {job.id} is queued twice")
        seen.add(job.id)
        if job.allocation not in by_id:
            raise FairshareError("jobs.allocation", f"job {job.id} is queued on unknown allocation {job.allocation}")
        _aware(job.submitted_at, "jobs.submitted_at")
    return shares, by_id, queued


def queue_order(*, states: Iterable[MemberState], allocations: Iterable[Allocation], usage: Iterable[Usage],
                jobs: Iterable[QueuedJob], now: datetime, half_life: timedelta = DEFAULT_HALF_LIFE) -> QueueOrder:
    """The order to start the queued jobs in, with every state's and allocation's standing for display."""
    shares, by_id, queued = _validated(states, allocations, jobs)
    used = decayed_usage(usage, now=now, half_life=half_life)
    for allocation in used:
        if allocation not in by_id:
            raise FairshareError("usage.allocation", f"usage is charged to unknown allocation {allocation}")
    children: dict[str, list[Allocation]] = defaultdict(list)
    for allocation in by_id.values():
        children[allocation.state].append(allocation)
    state_usage = {code: sum((used.get(a.id, Fraction(0)) for a in children[code]), Fraction(0)) for code in shares}
    waiting: dict[int, list[QueuedJob]] = defaultdict(list)
    for job in queued:
        waiting[job.allocation].append(job)

    ranked_states = _rank_siblings([(code, share, state_usage[code]) for code, share in shares.items()], None)
    ranked_allocations: list[Standing] = []
    order: list[int] = []
    for state in ranked_states:
        siblings = [(a.id, Fraction(a.budget_gpu_seconds), used.get(a.id, Fraction(0))) for a in children[state.key]]
        for allocation in _rank_siblings(siblings, state.key):
            ranked_allocations.append(allocation)
            order.extend(job.id for job in sorted(waiting[allocation.key], key=lambda j: (j.submitted_at, j.id)))
    return QueueOrder(tuple(order), tuple(ranked_states), tuple(ranked_allocations))
