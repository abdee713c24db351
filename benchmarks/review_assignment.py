"""Reviewer assignment benchmark: our min-cost-flow ``assign`` against the greedy baseline, same call, same run.

A seeded call (5,000 proposals, 2,000 reviewers by default) with conflicts of interest from shared institutions
(300, each in one of 20 countries), from council delegates of the applicants' countries, from reviewers who
also apply, and from declared conflicts; 3 to 6 keywords per person and proposal from 200 topics whose
popularity follows a mild Zipf law; 3 reviews per proposal, 10 per reviewer at most. Both sides are timed end
to end (conflicts, candidates and assignment) and checked pair by pair with ``coi.reasons``. It is a
measurement, not a test: it exits 0 even when a target is missed, and says so.

    .venv/bin/python benchmarks/review_assignment.py [--proposals 5000] [--reviewers 2000] [--seed 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import Counter

from rich.console import Console
from rich.table import Table

from aicommons.access import assignment, coi
from aicommons.access.coi import CallApplicants, ProposalProfile, ReviewerProfile

TIME_TARGET_S = 30.0
COUNTRIES = ("AT", "BE", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR",
             "HU", "IE", "IT", "LT", "NL", "PL", "PT", "SE", "SI", "SK")


def organisation_keys(institution: int) -> set[str]:
    # A domain of its own: coi.domain_keys treats every parent domain as the same organisation.
    return {coi.institution_key(institution), *coi.domain_keys(f"inst{institution}.eu")}


def pick_topics(rng: random.Random, vocabulary: list[str], weights: list[float]) -> frozenset[str]:
    wanted, picked = rng.randint(3, 6), set()
    while len(picked) < wanted:
        picked.add(rng.choices(vocabulary, weights)[0])
    return frozenset(picked)


def make_call(args) -> tuple[list[ReviewerProfile], list[ProposalProfile]]:
    rng = random.Random(args.seed)
    vocabulary = [f"topic-{t:03d}" for t in range(args.topics)]
    weights = [1 / (rank + 1) ** args.zipf for rank in range(args.topics)]  # a few hot topics, a long tail
    country_of = [rng.choice(COUNTRIES) for _ in range(args.institutions)]
    proposal_ids = list(range(1, args.proposals + 1))
    reviewer_ids = list(range(1, args.reviewers + 1))
    applying_reviewers = set(rng.sample(reviewer_ids, args.reviewers // 50))  # 2% also apply to the call
    proposals, applying_left = [], sorted(applying_reviewers)
    for proposal_id in proposal_ids:
        institutions = rng.sample(range(args.institutions), rng.randint(1, 3))
        people = {100_000 + proposal_id * 10 + k for k in range(rng.randint(1, 4))}
        if applying_left and rng.random() < 0.05:
            people.add(applying_left.pop())
        proposals.append(ProposalProfile(
            proposal_id=proposal_id, organisation_keys=frozenset(k for n in institutions for k in organisation_keys(n)),
            countries=frozenset(country_of[n] for n in institutions), people=frozenset(people),
            keywords=pick_topics(rng, vocabulary, weights)))
    reviewers = []
    for person_id in reviewer_ids:
        institutions = rng.sample(range(args.institutions), rng.choice((1, 1, 2)))  # some moved in the last year
        delegate_of = frozenset({rng.choice(COUNTRIES)}) if rng.random() < 0.05 else frozenset()
        declared = frozenset(rng.sample(proposal_ids, rng.choice((0, 0, 1, 2))))
        reviewers.append(ReviewerProfile(
            person_id=person_id, organisation_keys=frozenset(k for n in institutions for k in organisation_keys(n)),
            delegate_of=delegate_of, declared=declared, keywords=pick_topics(rng, vocabulary, weights),
            max_load=args.max_load))
    return reviewers, proposals


def upper_bound(reviewers, proposals, applicants, per_proposal: int) -> int:
    """Each proposal's best non-conflicted reviewers with loads ignored: no assignment can match more."""
    barred = coi.conflicted(reviewers, proposals, applicants)
    by_topic: dict[str, list[int]] = {}
    for reviewer in reviewers:
        for topic in reviewer.keywords:
            by_topic.setdefault(topic, []).append(reviewer.person_id)
    best = 0
    for proposal in proposals:
        shared = Counter(r for topic in proposal.keywords for r in by_topic.get(topic, ()))
        allowed = sorted((n for r, n in shared.items() if r not in barred[proposal.proposal_id]), reverse=True)
        best += sum(allowed[:per_proposal])
    return best


def measure(function, reviewers, proposals, applicants, per_proposal) -> dict:
    t0 = time.perf_counter()
    result = function(reviewers, proposals, reviews_per_proposal=per_proposal, applicants=applicants)
    seconds = time.perf_counter() - t0
    broken = assignment.check(result, reviewers, proposals, applicants)
    loads = list(result.loads.values())
    return {"seconds": seconds, "total_match": result.total_match, "pairs": len(result.pairs),
            "proposals_short": len(result.short), "reviews_missing": sum(result.short.values()),
            "conflicted_pairs": len(broken.conflicted), "over_capacity_reviewers": len(broken.over_capacity),
            "duplicate_pairs": len(broken.duplicates),
            "load": {"min": min(loads), "max": max(loads), "stdev": statistics.pstdev(loads),
                     "reviewers_idle": loads.count(0)},
            "match_histogram": dict(sorted(Counter(assignment.match(r, p)
                                                   for p, r in _profiles(result, reviewers, proposals)).items()))}


def _profiles(result, reviewers, proposals):
    by_reviewer = {r.person_id: r for r in reviewers}
    by_proposal = {p.proposal_id: p for p in proposals}
    return [(by_proposal[p], by_reviewer[r]) for p, r in result.pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proposals", type=int, default=5000)
    parser.add_argument("--reviewers", type=int, default=2000)
    parser.add_argument("--institutions", type=int, default=300)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--zipf", type=float, default=0.5, help="topic popularity exponent; 0 for uniform")
    parser.add_argument("--reviews", type=int, default=3, help="reviews per proposal")
    parser.add_argument("--max-load", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary only")
    args = parser.parse_args()
    stream = sys.stderr if args.json else sys.stdout
    console = Console(file=stream, width=None if stream.isatty() else 130)
    console.print(f"Making a call of {args.proposals:,} proposals and {args.reviewers:,} reviewers "
                  f"(seed {args.seed}) ...")
    reviewers, proposals = make_call(args)
    applicants = CallApplicants.of(proposals)
    barred = coi.conflicted(reviewers, proposals, applicants)
    ours = measure(assignment.assign, reviewers, proposals, applicants, args.reviews)
    base = measure(assignment.greedy, reviewers, proposals, applicants, args.reviews)
    console.print("Computing the upper bound (loads ignored) ...")
    bound = upper_bound(reviewers, proposals, applicants, args.reviews)
    violated = ours["conflicted_pairs"] + ours["over_capacity_reviewers"] + ours["duplicate_pairs"]
    targets = {"time_s": ours["seconds"], "time_met": ours["seconds"] < TIME_TARGET_S,
               "match_ratio": ours["total_match"] / base["total_match"],
               "match_met": ours["total_match"] >= base["total_match"]
               or ours["reviews_missing"] < base["reviews_missing"],
               "violations": violated, "violations_met": violated == 0}
    summary = {"setup": {**vars(args), "cpus": os.cpu_count(), "python": sys.version.split()[0],
                         "conflicted_pairs_in_call": sum(map(len, barred.values())),
                         "reviewers_applying": len({r.person_id for r in reviewers} & applicants.people)},
               "ours": ours, "greedy": base, "upper_bound_match": bound, "targets": targets}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    table = Table(title=f"Reviewer assignment: {args.proposals:,} proposals x {args.reviews} reviews, "
                        f"{args.reviewers:,} reviewers (max load {args.max_load}), "
                        f"{summary['setup']['conflicted_pairs_in_call']:,} conflicted pairs")
    for column in ("measure", "ours (min-cost flow)", "greedy", "ours vs greedy"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row("time, end to end (s)", f"{ours['seconds']:.2f}", f"{base['seconds']:.2f}",
                  f"{ours['seconds'] / base['seconds']:.1f}x slower")
    table.add_row("total match", f"{ours['total_match']:,}", f"{base['total_match']:,}",
                  f"{targets['match_ratio']:.3f}x")
    table.add_row("  mean match per review", f"{ours['total_match'] / max(1, ours['pairs']):.3f}",
                  f"{base['total_match'] / max(1, base['pairs']):.3f}", "")
    table.add_row("  upper bound (loads ignored)", f"{bound:,}", f"{bound:,}",
                  f"{ours['total_match'] / bound:.3f} / {base['total_match'] / bound:.3f} of it")
    histogram = lambda side: " ".join(f"{m}:{n}" for m, n in side["match_histogram"].items())  # noqa: E731
    table.add_row("reviews by match (match:count)", histogram(ours), histogram(base), "")
    table.add_row("proposals short (reviews missing)", f"{ours['proposals_short']} ({ours['reviews_missing']})",
                  f"{base['proposals_short']} ({base['reviews_missing']})", "")
    table.add_row("conflicted pairs (coi.reasons)", str(ours["conflicted_pairs"]), str(base["conflicted_pairs"]), "")
    table.add_row("reviewers over max load", str(ours["over_capacity_reviewers"]),
                  str(base["over_capacity_reviewers"]), "")
    spread = lambda side: "{min} / {max} / {stdev:.2f} / {reviewers_idle}".format(**side["load"])  # noqa: E731
    table.add_row("load: min / max / stdev / idle reviewers", spread(ours), spread(base), "")
    console.print(table)
    console.print(f"{summary['setup']['reviewers_applying']} reviewers also apply to the call, so they may review "
                  "nothing (idle). "
                  "The upper bound gives every proposal its best allowed reviewers, however loaded.")
    verdict = {True: "[green]PASS[/green]", False: "[bold red]MISS[/bold red]"}
    console.print(f"assign under {TIME_TARGET_S:.0f} s: {ours['seconds']:.2f} s {verdict[targets['time_met']]}")
    console.print(f"total match >= greedy's: {ours['total_match']:,} vs {base['total_match']:,} "
                  f"{verdict[targets['match_met']]}")
    console.print(f"0 violations (conflicts, over-capacity, duplicates): {violated} "
                  f"{verdict[targets['violations_met']]}")


if __name__ == "__main__":
    main()
