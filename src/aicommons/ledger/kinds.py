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
    ]
}
