"""Automatic assignment of reviewers to proposals (pure, no I/O).

Every proposal needs ``reviews_per_proposal`` reviewers, no reviewer takes more than ``max_load`` proposals,
and no reviewer ever gets a proposal they have a conflict of interest with (``coi``). Within those rules
``assign`` wants, in this order: (1) coverage, as many reviews as can be given at all, so a proposal is short
only when no arrangement could complete it; (2) expertise, the greatest total match (keywords a reviewer
shares with the proposal, summed over the pairs); (3) balance, among reviewers of equal match the less loaded.

It is a minimum-cost maximum flow: source -> proposal (capacity: reviews still needed) -> reviewer (capacity 1,
cost -match) -> sink (capacity: load left), solved by the primal-dual method (Ahuja, Magnanti and Orlin,
*Network Flows*, 9.7-9.8): Dijkstra on reduced costs moves the node potentials, then a Dinic blocking flow
takes every augmenting path of zero reduced cost, until the sink is out of reach. Each step keeps the flow
the cheapest of its size, and a call of 5,000 proposals needs a handful of Dijkstras.

Ten million pairs are too many for the flow, so it runs on a candidate graph: each proposal's best
``candidates_per_proposal`` reviewers by match, plus the pairs of a maximum-coverage assignment found first by
augmenting paths over *all* allowed pairs, starting from the greedy baseline. So the flow reaches the best
coverage, and the greedy assignment is one of the flows it chooses among: ``assign`` never matches less than
``greedy`` unless it gives more reviews. Balance is settled last, by moves between reviewers of equal match.
"""
from __future__ import annotations

import bisect
import itertools
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush

from aicommons.access import coi
from aicommons.access.coi import CallApplicants, ProposalProfile, ReviewerProfile

Pair = tuple[int, int]  # (proposal_id, reviewer person_id)


@dataclass(frozen=True)
class AssignmentResult:
    pairs: list[Pair]  # sorted, existing pairs included
    total_match: int
    short: dict[int, int]  # proposal_id -> reviews missing
    loads: dict[int, int]  # reviewer person_id -> proposals assigned, existing ones included


@dataclass(frozen=True)
class Violations:
    conflicted: list[tuple[int, int, list[coi.Reason]]] = field(default_factory=list)
    over_capacity: dict[int, int] = field(default_factory=dict)  # reviewer person_id -> load
    duplicates: list[Pair] = field(default_factory=list)
    unknown: list[Pair] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.conflicted or self.over_capacity or self.duplicates or self.unknown)


def _topics(keywords: Iterable[str]) -> frozenset[str]:
    return frozenset(k.strip().lower() for k in keywords)


def match(reviewer: ReviewerProfile, proposal: ProposalProfile) -> int:
    """Expertise match: how many keywords the reviewer and the proposal share."""
    return len(_topics(reviewer.keywords) & _topics(proposal.keywords))


def violations(pairs: Iterable[Pair], reviewers: Iterable[ReviewerProfile], proposals: Iterable[ProposalProfile],
               applicants: CallApplicants | None = None) -> Violations:
    """Every broken rule in an assignment, checked pair by pair with ``coi.reasons``, independent of ``assign``."""
    by_reviewer = {r.person_id: r for r in reviewers}
    by_proposal = {p.proposal_id: p for p in proposals}
    applicants = applicants or CallApplicants.of(by_proposal.values())
    found = Violations()
    seen: set[Pair] = set()
    load: Counter[int] = Counter()
    for pair in pairs:
        proposal_id, reviewer_id = pair
        if proposal_id not in by_proposal or reviewer_id not in by_reviewer:
            found.unknown.append(pair)
            continue
        if pair in seen:
            found.duplicates.append(pair)
        seen.add(pair)
        load[reviewer_id] += 1
        why = coi.reasons(by_reviewer[reviewer_id], by_proposal[proposal_id], applicants)
        if why:
            found.conflicted.append((proposal_id, reviewer_id, why))
    found.over_capacity.update({r: n for r, n in sorted(load.items()) if n > by_reviewer[r].max_load})
    return found


def check(result: AssignmentResult, reviewers: Iterable[ReviewerProfile], proposals: Iterable[ProposalProfile],
          applicants: CallApplicants | None = None) -> Violations:
    """``violations`` of a result; empty (falsy) when the assignment keeps every rule."""
    return violations(result.pairs, reviewers, proposals, applicants)


@dataclass
class _Call:
    """A call in index form: proposals and reviewers by ascending id, so index order is id order."""

    proposals: list[ProposalProfile]
    reviewers: list[ReviewerProfile]
    barred: list[set[int]]  # per proposal, reviewer indices
    fixed: list[set[int]]  # per proposal, reviewer indices of the existing pairs
    need: list[int]  # per proposal, reviews still needed after the existing pairs
    room: list[int]  # per reviewer, proposals it can still take after the existing pairs
    shared: list[Counter[int]]  # per proposal, reviewer -> keywords shared (absent: none)
    ranked: list[list[int]]  # per proposal, allowed reviewers sharing a keyword, best match first, ties by id


def _prepare(reviewers: Iterable[ReviewerProfile], proposals: Iterable[ProposalProfile], per_proposal: int,
             existing: Iterable[Pair], applicants: CallApplicants | None) -> _Call:
    reviewers = sorted(reviewers, key=lambda r: r.person_id)
    proposals = sorted(proposals, key=lambda p: p.proposal_id)
    r_index = {r.person_id: j for j, r in enumerate(reviewers)}
    p_index = {p.proposal_id: i for i, p in enumerate(proposals)}
    if len(r_index) < len(reviewers) or len(p_index) < len(proposals):
        raise ValueError("reviewer and proposal ids must be unique")
    applicants = applicants or CallApplicants.of(proposals)
    conflicts = coi.conflicted(reviewers, proposals, applicants)
    barred = [{r_index[r] for r in conflicts[p.proposal_id]} for p in proposals]
    fixed: list[set[int]] = [set() for _ in proposals]
    for proposal_id, reviewer_id in existing:
        if proposal_id not in p_index or reviewer_id not in r_index:
            raise ValueError(f"existing pair ({proposal_id}, {reviewer_id}) names an unknown proposal or reviewer")
        i, j = p_index[proposal_id], r_index[reviewer_id]
        if j in fixed[i]:
            raise ValueError(f"existing pair ({proposal_id}, {reviewer_id}) is given twice")
        fixed[i].add(j)  # even when conflicted: a person may have overridden the rule, with a justification
    room = [r.max_load for r in reviewers]
    for taken in fixed:
        for j in taken:
            room[j] -= 1
    room = [max(0, left) for left in room]  # a reviewer whom existing pairs put past max_load gets nothing more
    by_topic: dict[str, list[int]] = {}
    for j, reviewer in enumerate(reviewers):
        for topic in _topics(reviewer.keywords):
            by_topic.setdefault(topic, []).append(j)
    shared, ranked = [], []
    for i, proposal in enumerate(proposals):
        mine: Counter[int] = Counter()
        for topic in _topics(proposal.keywords):
            mine.update(by_topic.get(topic, ()))
        order = sorted(mine.keys() - barred[i] - fixed[i])
        order.sort(key=mine.__getitem__, reverse=True)  # stable, so equal matches stay in id order
        shared.append(mine)
        ranked.append(order)
    return _Call(proposals, reviewers, barred, fixed, [max(0, per_proposal - len(f)) for f in fixed], room,
                 shared, ranked)


def _greedy_pairs(call: _Call) -> list[list[int]]:
    """Proposals in id order each take their best reviewers with room left; match 0 when no better one has."""
    room = list(call.room)
    with_room = dict.fromkeys(j for j, left in enumerate(room) if left > 0)  # keeps id order
    chosen: list[list[int]] = []
    for i, need in enumerate(call.need):
        mine: list[int] = []
        for j in call.ranked[i]:
            if len(mine) == need:
                break
            if room[j] > 0:
                mine.append(j)
        if len(mine) < need:
            excluded = call.barred[i] | call.fixed[i] | set(mine)
            mine += [j for j in with_room if j not in excluded][:need - len(mine)]
        for j in mine:
            room[j] -= 1
            if room[j] == 0:
                del with_room[j]
        chosen.append(mine)
    return chosen


def _complete(call: _Call, chosen: list[list[int]]) -> list[set[int]]:
    """Add reviews along augmenting paths over all non-conflicted pairs until none is left (Kuhn's method).

    A path moves a full reviewer's proposal to another reviewer to free a place, as often as needed, so it
    completes proposals that a greedy pass leaves short although the call could complete them.
    """
    on = [set(mine) for mine in chosen]
    holders: list[set[int]] = [set() for _ in call.reviewers]
    for i, mine in enumerate(on):
        for j in mine:
            holders[j].add(i)
    load = [len(h) for h in holders]
    # A search that fails leaves nodes from which no free place can be reached; while nothing changes they
    # stay unreachable, so they are not searched again until an augmentation succeeds.
    seen_p: set[int] = set()
    unseen_r = dict.fromkeys(range(len(call.reviewers)))
    for root, need in enumerate(call.need):
        while len(on[root]) < need and root not in seen_p:
            came_from_r: dict[int, int] = {}  # reviewer -> the proposal that would take it
            came_from_p: dict[int, int] = {}  # proposal -> the reviewer it would give up
            queue, free = deque([root]), None
            seen_p.add(root)
            while queue and free is None:
                i = queue.popleft()
                excluded = call.barred[i] | call.fixed[i] | on[i]
                for j in [j for j in unseen_r if j not in excluded]:
                    del unseen_r[j]
                    came_from_r[j] = i
                    if load[j] < call.room[j]:
                        free = j
                        break
                    for q in sorted(holders[j] - seen_p):
                        seen_p.add(q)
                        came_from_p[q] = j
                        queue.append(q)
            if free is None:
                break
            load[free] += 1
            j = free
            while True:  # walk back: each proposal takes the reviewer ahead and gives up the one behind
                i = came_from_r[j]
                on[i].add(j)
                holders[j].add(i)
                if i == root:
                    break
                j = came_from_p[i]
                on[i].discard(j)
                holders[j].discard(i)
            seen_p.clear()
            unseen_r = dict.fromkeys(range(len(call.reviewers)))
    return on


class _Flow:
    """Min-cost max-flow on the candidate graph; proposal and reviewer indices, costs are -match."""

    def __init__(self, call: _Call, edges: list[dict[int, int]]):
        self.need, self.room, self.weight = call.need, call.room, edges
        self.adjacent = [sorted(mine, key=lambda j, mine=mine: (-mine[j], j)) for mine in edges]
        self.on: list[set[int]] = [set() for _ in edges]
        self.holders: list[set[int]] = [set() for _ in call.reviewers]
        self.load, self.filled = [0] * len(call.reviewers), [0] * len(edges)
        # Potentials that make every reduced cost non-negative while the flow is empty: costs are -match.
        self.pot_p, self.pot_r = [0] * len(edges), [0] * len(call.reviewers)
        for mine in edges:
            for j, w in mine.items():
                self.pot_r[j] = min(self.pot_r[j], -w)
        self.pot_t = min(self.pot_r, default=0)

    def run(self) -> None:
        while self._shortest_paths() is not None:
            while self._augment_round():
                pass

    def _shortest_paths(self) -> int | None:
        """Dijkstra from the source on reduced costs; moves the potentials; None when the sink is unreachable."""
        big = 1 << 60
        dist_p, dist_r = [big] * len(self.need), [big] * len(self.room)
        pot_p, pot_r, on, holders, weight = self.pot_p, self.pot_r, self.on, self.holders, self.weight
        heap = [(-pot_p[i], 0, i) for i, need in enumerate(self.need) if self.filled[i] < need]
        for d, _, i in heap:
            dist_p[i] = d
        heapify(heap)
        to_sink = None
        while heap:
            d, kind, v = heappop(heap)
            if kind == 0:
                if d > dist_p[v]:
                    continue
                base, taken, mine = d + pot_p[v], on[v], weight[v]
                for j in self.adjacent[v]:
                    nd = base - mine[j] - pot_r[j]
                    if nd < dist_r[j] and j not in taken:
                        dist_r[j] = nd
                        heappush(heap, (nd, 1, j))
            elif kind == 1:
                if d > dist_r[v]:
                    continue
                base = d + pot_r[v]
                if self.load[v] < self.room[v] and (to_sink is None or base - self.pot_t < to_sink):
                    to_sink = base - self.pot_t
                    heappush(heap, (to_sink, 2, 0))
                for i in holders[v]:
                    nd = base + weight[i][v] - pot_p[i]
                    if nd < dist_p[i]:
                        dist_p[i] = nd
                        heappush(heap, (nd, 0, i))
            else:
                break
        if to_sink is None:
            return None
        # Nodes not settled before the sink are at least as far; capping keeps every reduced cost >= 0.
        self.pot_p = [p + min(d, to_sink) for p, d in zip(pot_p, dist_p, strict=True)]
        self.pot_r = [p + min(d, to_sink) for p, d in zip(pot_r, dist_r, strict=True)]
        self.pot_t += to_sink
        return to_sink

    def _augment_round(self) -> int:
        """One blocking flow (Dinic) in the admissible graph: the zero-reduced-cost residual edges, layered by
        distance from the sources so that paths stay short; how many augmenting paths it found."""
        level_p, level_r = self._levels()
        next_p: list = [None] * len(level_p)  # each node's edge iterator, kept for the round: edges that
        next_r: list = [None] * len(level_r)  # led nowhere lead nowhere for the rest of it
        found = 0
        for root, need in enumerate(self.need):
            while self.filled[root] < need and level_p[root] == 0 and self._augment_from(root, level_p, level_r,
                                                                                         next_p, next_r):
                found += 1
        return found

    def _is_sink_edge(self, j: int) -> bool:
        return self.load[j] < self.room[j] and self.pot_r[j] == self.pot_t

    def _levels(self) -> tuple[list[int], list[int]]:
        """Breadth-first layers of the admissible graph from the admissible sources; -1 where unreached."""
        level_p, level_r = [-1] * len(self.need), [-1] * len(self.room)
        queue = deque(i for i, need in enumerate(self.need) if self.filled[i] < need and self.pot_p[i] == 0)
        for i in queue:
            level_p[i] = 0
        while queue:
            i = queue.popleft()
            for j in self._admissible_reviewers(i):
                if level_r[j] < 0:
                    level_r[j] = level_p[i] + 1
                    if not self._is_sink_edge(j):  # a path would end here; going on only makes it longer
                        for q in self._admissible_holders(j):
                            if level_p[q] < 0:
                                level_p[q] = level_r[j] + 1
                                queue.append(q)
        return level_p, level_r

    def _augment_from(self, root: int, level_p, level_r, next_p, next_r) -> bool:
        """Depth-first search along the layers; a path ends at a reviewer with room left."""
        stack = [(0, root)]
        while stack:
            kind, node = stack[-1]
            if kind == 0:
                options = next_p[node] = next_p[node] or self._admissible_reviewers(node)
                j = next(options, None)
                if j is None:
                    level_p[node] = -2  # dead for the rest of the round
                    stack.pop()
                elif level_r[j] == level_p[node] + 1:
                    if self._is_sink_edge(j):
                        self._apply([n for _, n in stack] + [j])
                        return True
                    stack.append((1, j))
            else:
                options = next_r[node] = next_r[node] or self._admissible_holders(node)
                i = next(options, None)
                if i is None:
                    level_r[node] = -2
                    stack.pop()
                elif level_p[i] == level_r[node] + 1:
                    stack.append((0, i))
        return False

    def _admissible_reviewers(self, i: int):
        pot, taken, mine, pot_r = self.pot_p[i], self.on[i], self.weight[i], self.pot_r
        for j in self.adjacent[i]:
            if pot_r[j] == pot - mine[j] and j not in taken:
                yield j

    def _admissible_holders(self, j: int):
        pot = self.pot_r[j]
        for i in sorted(self.holders[j]):
            if i in self.holders[j] and self.pot_p[i] == pot + self.weight[i][j]:
                yield i

    def _apply(self, path: list[int]) -> None:
        """path = proposal, reviewer, proposal, ..., reviewer: each proposal takes the reviewer after it and
        gives up the one before it, so only the first proposal and the last reviewer change their totals."""
        for k in range(0, len(path), 2):
            i, j = path[k], path[k + 1]
            self.on[i].add(j)
            self.holders[j].add(i)
            if k:
                self.on[i].discard(path[k - 1])
                self.holders[path[k - 1]].discard(i)
        self.filled[path[0]] += 1
        self.load[path[-1]] += 1

    def balance(self, fixed: list[set[int]]) -> None:
        """Move reviews from busier to idler reviewers of equal match until no such move is left.

        Each move lowers the sum of squared loads, so this ends; match and coverage do not change.
        """
        fixed_load = Counter(j for taken in fixed for j in taken)
        total = [n + fixed_load[j] for j, n in enumerate(self.load)]
        moved = True
        while moved:
            moved = False
            for j in sorted(range(len(total)), key=lambda j: (-total[j], j)):
                for i in sorted(self.holders[j]):
                    w, mine, taken = self.weight[i][j], self.weight[i], self.on[i]
                    options = [k for k in self.adjacent[i] if mine[k] == w and total[k] + 1 < total[j]
                               and self.load[k] < self.room[k] and k not in taken]
                    if not options:
                        continue
                    k = min(options, key=lambda k: (total[k], k))
                    taken.discard(j)
                    taken.add(k)
                    self.holders[j].discard(i)
                    self.holders[k].add(i)
                    self.load[j], self.load[k], total[j], total[k] = (self.load[j] - 1, self.load[k] + 1,
                                                                      total[j] - 1, total[k] + 1)
                    moved = True


def _result(call: _Call, on: Sequence[Iterable[int]], per_proposal: int) -> AssignmentResult:
    pairs, total, short, loads = [], 0, {}, dict.fromkeys((r.person_id for r in call.reviewers), 0)
    for i, proposal in enumerate(call.proposals):
        mine = sorted(set(on[i]) | call.fixed[i])
        for j in mine:
            reviewer_id = call.reviewers[j].person_id
            pairs.append((proposal.proposal_id, reviewer_id))
            loads[reviewer_id] += 1
            total += call.shared[i][j]
        if len(mine) < per_proposal:
            short[proposal.proposal_id] = per_proposal - len(mine)
    return AssignmentResult(pairs, total, short, loads)


def _best_candidates(ranked: list[int], shared: Counter[int], contention: list[int], wanted: int) -> dict[int, int]:
    """The ``wanted`` best matches; among equal matches the reviewers fewer proposals compete for, so that the
    candidate graph spreads over the pool instead of crowding the lowest ids."""
    if len(ranked) <= wanted:
        return {j: shared[j] for j in ranked}
    cut = shared[ranked[wanted - 1]]
    first = bisect.bisect_left(ranked, -cut, key=lambda j: -shared[j])
    level = ranked[first:bisect.bisect_right(ranked, -cut, lo=wanted - 1, key=lambda j: -shared[j])]
    level.sort(key=contention.__getitem__)  # stable: ties stay in id order
    return {j: shared[j] for j in itertools.chain(ranked[:first], level[:wanted - first])}


def _add_unmatched_candidates(call: _Call, edges: list[dict[int, int]], contention: list[int], wanted: int) -> None:
    """Top up proposals with fewer matching candidates than ``wanted`` with reviewers of match 0, from a window
    moving along the reviewers least in demand so that they spread over the pool. With no more reviewers than
    ``wanted``, every allowed pair is a candidate and the flow is exact over the whole call."""
    order = sorted(range(len(call.reviewers)), key=lambda j: (contention[j], j))
    for i, mine in enumerate(edges):
        if len(mine) >= wanted:
            continue
        excluded, start = call.barred[i] | call.fixed[i], (i * wanted) % max(1, len(order))
        for j in itertools.chain(order[start:], order[:start]):
            if j not in excluded:
                mine.setdefault(j, 0)
                if len(mine) >= wanted:
                    break


def greedy(reviewers: Iterable[ReviewerProfile], proposals: Iterable[ProposalProfile], *,
           reviews_per_proposal: int = 3, existing: Iterable[Pair] = (),
           applicants: CallApplicants | None = None) -> AssignmentResult:
    """The baseline: proposals in id order each take their best reviewers with room left (ties by id)."""
    call = _prepare(reviewers, proposals, reviews_per_proposal, existing, applicants)
    return _result(call, _greedy_pairs(call), reviews_per_proposal)


def assign(reviewers: Iterable[ReviewerProfile], proposals: Iterable[ProposalProfile], *,
           reviews_per_proposal: int = 3, existing: Iterable[Pair] = (), applicants: CallApplicants | None = None,
           candidates_per_proposal: int = 48) -> AssignmentResult:
    """Conflict-free assignment with the best coverage, then the greatest total match, then even loads.

    ``existing`` pairs (proposal_id, reviewer_id), such as manual ones, are kept as they are and count toward
    their reviewer's load and their proposal's reviews. Only the pairs ``assign`` adds are bound by the rules:
    a manual pair may have overridden a conflict, or a load, by a person's decision recorded elsewhere.
    """
    call = _prepare(reviewers, proposals, reviews_per_proposal, existing, applicants)
    covering = _complete(call, _greedy_pairs(call))
    counts: Counter[int] = Counter()
    for order in call.ranked:
        counts.update(order)
    contention = [counts[j] for j in range(len(call.reviewers))]
    edges = [_best_candidates(order, call.shared[i], contention, candidates_per_proposal)
             for i, order in enumerate(call.ranked)]
    _add_unmatched_candidates(call, edges, contention, candidates_per_proposal)
    for i, mine in enumerate(covering):
        for j in mine:
            edges[i].setdefault(j, call.shared[i][j])
    flow = _Flow(call, edges)
    flow.run()
    flow.balance(call.fixed)
    return _result(call, flow.on, reviews_per_proposal)
