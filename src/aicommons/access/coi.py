"""Conflicts of interest between reviewers and proposals (pure, no I/O).

A reviewer may never review a proposal when any of these holds (the reasons, in ``Reason``):

- **institution**: the reviewer works, or worked in the last 12 months, at an applicant's institution.
  Institutions are compared by *organisation keys*: the institution's record, each of its registered
  email domains and each of its alias names, so that two records of the same organisation (or a
  reviewer whose email domain belongs to it) still conflict. The service builds the keys; this module
  only intersects them.
- **same call**: the reviewer is the principal investigator or a team member of any proposal in the call.
- **delegate**: the reviewer is a council delegate of an applicant's country.
- **declared**: the reviewer declared a conflict with the proposal.

Checking a pair is a set intersection; checking a whole call goes through inverted indexes, so that
5,000 proposals against 2,000 reviewers costs a pass over the keys rather than ten million pairs.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Reason(enum.StrEnum):
    INSTITUTION = "institution"
    SAME_CALL = "same_call"
    DELEGATE = "delegate"
    DECLARED = "declared"


def institution_key(institution_id: int) -> str:
    return f"institution:{institution_id}"


def domain_keys(domain: str) -> set[str]:
    """The domain and each parent with at least two labels: ``cs.uni.example`` is also ``uni.example``."""
    labels = domain.strip().lower().rstrip(".").split(".")
    return {"domain:" + ".".join(labels[i:]) for i in range(len(labels) - 1)}


def name_key(name: str) -> str:
    """Case, punctuation and spacing do not make two names different organisations."""
    return "name:" + re.sub(r"[^0-9a-z]+", " ", name.casefold()).strip()


@dataclass(frozen=True)
class ReviewerProfile:
    person_id: int
    # Keys of every organisation the reviewer works at or worked at in the last 12 months, and of the
    # reviewer's email domain.
    organisation_keys: frozenset[str]
    delegate_of: frozenset[str] = frozenset()
    declared: frozenset[int] = frozenset()  # proposal ids
    keywords: frozenset[str] = frozenset()
    max_load: int = 10


@dataclass(frozen=True)
class ProposalProfile:
    proposal_id: int
    # Keys of the PI's and team members' institutions as registered (their record, name, aliases and
    # registered domains). Never the suffixes of an email domain: a reviewer's ``domain_keys`` include
    # "ac.uk", which must match only an institution that registered "ac.uk", not every UK university.
    organisation_keys: frozenset[str]
    countries: frozenset[str]
    people: frozenset[int]  # PI and team, person ids
    keywords: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CallApplicants:
    """Everyone who applies to the call, as PI or team member, on any proposal."""

    people: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def of(cls, proposals: Iterable[ProposalProfile]) -> CallApplicants:
        return cls(frozenset(p for proposal in proposals for p in proposal.people))


def reasons(reviewer: ReviewerProfile, proposal: ProposalProfile, applicants: CallApplicants) -> list[Reason]:
    """Every reason the reviewer may not review the proposal; empty when there is none."""
    found = []
    if reviewer.organisation_keys & proposal.organisation_keys:
        found.append(Reason.INSTITUTION)
    if reviewer.person_id in applicants.people or reviewer.person_id in proposal.people:
        found.append(Reason.SAME_CALL)
    if reviewer.delegate_of & proposal.countries:
        found.append(Reason.DELEGATE)
    if proposal.proposal_id in reviewer.declared:
        found.append(Reason.DECLARED)
    return found


def conflicted(reviewers: Iterable[ReviewerProfile], proposals: Iterable[ProposalProfile],
               applicants: CallApplicants | None = None) -> dict[int, set[int]]:
    """For each proposal id, the person ids of the reviewers who may not review it."""
    reviewers, proposals = list(reviewers), list(proposals)
    applicants = applicants or CallApplicants.of(proposals)
    by_key: Mapping[str, list[int]] = _index(reviewers, lambda r: r.organisation_keys)
    by_country: Mapping[str, list[int]] = _index(reviewers, lambda r: r.delegate_of)
    reviewer_ids = {r.person_id for r in reviewers}
    barred_everywhere = reviewer_ids & applicants.people
    declared: dict[int, set[int]] = defaultdict(set)
    for reviewer in reviewers:
        for proposal_id in reviewer.declared:
            declared[proposal_id].add(reviewer.person_id)
    result: dict[int, set[int]] = {}
    for proposal in proposals:
        # The proposal's own team, even when the caller's applicants leave it out (as ``reasons`` does).
        barred = barred_everywhere | (reviewer_ids & proposal.people)
        for key in proposal.organisation_keys:
            barred.update(by_key.get(key, ()))
        for country in proposal.countries:
            barred.update(by_country.get(country, ()))
        barred |= declared.get(proposal.proposal_id, set())
        result[proposal.proposal_id] = barred
    return result


def _index(reviewers: list[ReviewerProfile], keys_of) -> dict[str, list[int]]:
    index: dict[str, list[int]] = defaultdict(list)
    for reviewer in reviewers:
        for key in keys_of(reviewer):
            index[key].append(reviewer.person_id)
    return index
