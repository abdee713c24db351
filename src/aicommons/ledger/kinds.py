"""Every kind of ledger entry, with the public ``data`` fields it carries. One place, so auditors can read it.

A kind is ``<domain>.<thing>.<event>`` with the event in the past tense. Entries hold public facts only:
no personal data (people appear as ``urn:aicommons:person:<id>`` only when acting in a public office)
and no secrets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntryKind:
    name: str
    subject: str
    data_fields: dict[str, str]
    meaning: str


KINDS: dict[str, EntryKind] = {
    k.name: k
    for k in [
        EntryKind(
            "identity.member_state.admitted", "urn:aicommons:member-state:<ISO 3166-1 alpha-2>",
            {"code": "ISO 3166-1 alpha-2", "name": "English short name", "status":
             "member | associate_member | observer", "admitted_on": "ISO 8601 date"},
            "A state joined the facility.",
        ),
        EntryKind(
            "identity.member_state.changed", "urn:aicommons:member-state:<code>",
            {"changes": "object of field -> new value (name, status, admitted_on)"},
            "A member state's public record changed, e.g. observer to member.",
        ),
        EntryKind(
            "identity.institution.registered", "urn:aicommons:institution:<id>",
            {"name": "name", "country": "ISO 3166-1 alpha-2", "kind": "institution kind",
             "ror_id": "ROR id or null", "email_domains": "list of domains"},
            "An institution was registered with the facility.",
        ),
        EntryKind(
            "identity.institution.changed", "urn:aicommons:institution:<id>",
            {"changes": "object of field -> new value"},
            "An institution's public record changed.",
        ),
        EntryKind(
            "identity.role.granted", "urn:aicommons:person:<id>",
            {"role": "operator | delegate", "member_state": "code for delegates, else null",
             "grant": "role grant id"},
            "A public office (operator or delegate) was given to a person.",
        ),
        EntryKind(
            "identity.role.revoked", "urn:aicommons:person:<id>",
            {"role": "operator | delegate", "member_state": "code or null", "grant": "role grant id"},
            "A public office was taken away.",
        ),
        EntryKind(
            "governance.economic_figure.recorded", "urn:aicommons:member-state:<code>",
            {"member_state": "code", "year": "year", "nni_million_eur": "integer or null",
             "gdp_million_eur": "integer or null", "source": "where the figure comes from"},
            "A state's net national income or GDP for a year was entered or corrected.",
        ),
        EntryKind(
            "governance.contribution_scale.computed", "urn:aicommons:contribution-scale:<id>",
            {"parameters": "reference years, ceiling, floor, associate minimum",
             "shares": "object of state code -> share as a six-decimal string"},
            "A contribution scale was computed from the figures on file and proposed to the council.",
        ),
        EntryKind(
            "governance.contribution_scale.in_force", "urn:aicommons:contribution-scale:<id>",
            {"motion": "id of the motion that adopted it", "superseded": "id of the scale it replaced, or null"},
            "The council adopted a contribution scale; weighted votes and fair share use it from now on.",
        ),
        EntryKind(
            "governance.dues.recorded", "urn:aicommons:member-state:<code>",
            {"member_state": "code", "year": "year", "due_eur": "whole euros", "paid_eur": "whole euros"},
            "What a state owed and paid for a year was entered.",
        ),
        EntryKind(
            "governance.arrears.waived", "urn:aicommons:member-state:<code>",
            {"member_state": "code", "year": "the waiver covers arrears up to this year",
             "years": "the unpaid years it covers", "motion": "id of the deciding motion"},
            "The council let a state keep its vote despite its arrears up to a year.",
        ),
        EntryKind(
            "governance.constitution.amended", "urn:aicommons:constitution:<version>",
            {"version": "new version number", "motion": "id of the amending motion",
             "rules": "object of motion kind -> rule", "notice_days": "minimum notice before a vote"},
            "A new version of the constitution's decision rules came into force.",
        ),
        EntryKind(
            "governance.motion.noticed", "urn:aicommons:motion:<id>",
            {"kind": "motion kind", "title": "title", "text_sha256": "SHA-256 of the motion text (UTF-8)",
             "notice_ends_at": "RFC 3339"},
            "A motion was put before the council; voting may open when the notice period ends.",
        ),
        EntryKind(
            "governance.motion.revised", "urn:aicommons:motion:<id>",
            {"title": "title", "text_sha256": "SHA-256 of the revised text",
             "attachments": "list of {filename, sha256, size}", "notice_ends_at": "RFC 3339, restarted"},
            "A motion was changed during its notice period; the full notice period starts again.",
        ),
        EntryKind(
            "governance.motion.opened", "urn:aicommons:motion:<id>",
            {"kind": "motion kind", "title": "title", "text_sha256": "SHA-256 of the text",
             "attachments": "list of {filename, sha256, size}", "payload": "what the motion does if passed",
             "constitution_version": "version", "rule": "the rule as data", "rule_text": "the rule in words",
             "electorate": "{eligible: state -> weight, excluded: state -> reason}",
             "participants": "programme participants or null", "voting_closes_at": "RFC 3339"},
            "Voting opened; everything voted on and everything the tally depends on is fixed here.",
        ),
        EntryKind(
            "governance.ballot.cast", "urn:aicommons:motion:<id>",
            {"member_state": "code", "choice": "yes | no | abstain", "explanation": "explanation of vote or null",
             "ballot": "ballot id"},
            "A delegate cast their state's roll-call ballot; a later one from the same state replaces it.",
        ),
        EntryKind(
            "governance.motion.closed", "urn:aicommons:motion:<id>",
            {"closed_at": "RFC 3339", "states_voted": "number of states with a ballot"},
            "The roll-call closed; no later ballot counts.",
        ),
        EntryKind(
            "governance.motion.tallied", "urn:aicommons:motion:<id>",
            {"constitution_version": "version", "rule": "rule", "eligible": "state -> weight",
             "ballots": "state -> final choice", "ignored": "states whose ballots did not count",
             "counts": "yes/no/abstain/absent", "taking_part": "states taking part",
             "quorum_needed": "fraction", "quorum_met": "bool", "parts": "each threshold test",
             "outcome": "passed | failed | no_quorum", "workings": "the tally in words"},
            "The final ballots were counted under the rule fixed at opening.",
        ),
        EntryKind(
            "governance.motion.published", "urn:aicommons:motion:<id>",
            {"outcome": "passed | failed | no_quorum", "effect": "what took effect, or null"},
            "The decision was published and, if it passed, took effect.",
        ),
        EntryKind(
            "access.call.opened", "urn:aicommons:call:<id>",
            {"call": "id", "title": "title", "description": "text", "opens_at": "RFC 3339", "closes_at": "RFC 3339",
             "allocation_starts_on": "ISO 8601 date", "tracks": "list of {track, pool_hours, cap_hours, "
             "min_award_hours}", "rubric": "list of {name, weight}", "scale": "[1, 5]", "min_reviews": "int",
             "max_load": "proposals per reviewer", "spread_threshold": "int", "funding_threshold": "fraction",
             "policy": "merit | share_aware", "tolerance": "fraction", "reply_days": "int", "appeal_days": "int",
             "motion": "id of the approving motion"},
            "The council approved a call for proposals; it takes proposals between its dates.",
        ),
        EntryKind(
            "access.call.closed", "urn:aicommons:call:<id>",
            {"proposals": "number submitted", "requested_hours": "GPU-hours requested in all"},
            "A call stopped taking proposals; its technical checks and reviews begin.",
        ),
        EntryKind(
            "access.proposal.submitted", "urn:aicommons:proposal:<id>",
            {"call": "id", "track": "track", "title": "title", "summary": "public summary",
             "institution": "name", "institution_id": "id", "country": "ISO 3166-1 alpha-2",
             "requested_hours": "GPU-hours"},
            "A proposal was submitted to a call. Its people are not named.",
        ),
        EntryKind(
            "access.proposal.rejected", "urn:aicommons:proposal:<id>",
            {"call": "id", "stage": "technical_check"},
            "A proposal failed its technical check (the rationale goes to its applicants).",
        ),
        EntryKind(
            "access.appeal.lodged", "urn:aicommons:proposal:<id>",
            {"call": "id"},
            "The applicants appealed against a rejection (the grounds are not published).",
        ),
        EntryKind(
            "access.appeal.decided", "urn:aicommons:proposal:<id>",
            {"call": "id", "outcome": "upheld | dismissed"},
            "An appeal against a rejection was decided by a second operator.",
        ),
        EntryKind(
            "access.proposal.closed", "urn:aicommons:proposal:<id>",
            {"call": "id", "final_report": "{summary, outputs: list of {kind, title, identifier}}"},
            "A funded project ended with its final report listing what it produced.",
        ),
        EntryKind(
            "access.ranking.published", "urn:aicommons:call:<id>",
            {"funding_threshold": "fraction", "rubric": "list of {name, weight}",
             "ranking": "list of {proposal_id, track, score, criterion_means, spread, submitted_at, rank, "
             "track_rank, fundable, title, institution, country, requested_hours, review}"},
            "A call's proposals were scored and ranked. Individual reviews and reviewers are never published.",
        ),
        EntryKind(
            "access.conflict.overridden", "urn:aicommons:proposal:<id>",
            {"call": "id", "rules": "list of conflict rules set aside: institution | same_call | delegate | "
             "declared"},
            "An operator assigned a reviewer despite a conflict rule, with a written justification kept "
            "for the panel (the reviewer and the justification are not published).",
        ),
        EntryKind(
            "access.allocation.granted", "urn:aicommons:allocation:<id>",
            {"proposal": "id", "call": "id", "project": "title", "track": "track", "member_state": "code",
             "budget_gpu_seconds": "exact integer", "starts_on": "ISO 8601 date", "ends_on": "ISO 8601 date",
             "status": "active", "motion": "id of the motion approving the slate"},
            "An approved slate granted GPU time to a project.",
        ),
        EntryKind(
            "access.allocation.changed", "urn:aicommons:allocation:<id>",
            {"...": "the allocation's facts as granted, changed", "renewal_proposal": "id, for a renewal",
             "added_hours": "GPU-hours added by a renewal"},
            "An allocation was extended by a renewal, or expired.",
        ),
        EntryKind(
            "access.allocation.revoked", "urn:aicommons:allocation:<id>",
            {"...": "the allocation's facts", "reason": "the operator's stated reason"},
            "An operator revoked an allocation.",
        ),
        EntryKind(
            "compute.job.finished", "urn:aicommons:job:<id>",
            {"allocation": "urn:aicommons:allocation:<id>", "gpu_seconds": "exact integer charged",
             "outcome": "succeeded | failed | cancelled | timed_out | lost"},
            "A job ended and its GPU-seconds were charged to the allocation that paid for it.",
        ),
    ]
}
