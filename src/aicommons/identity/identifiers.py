"""Checks for the public identifiers the identity domain stores (pure, no I/O).

Each returns the normalised value or raises ``ValueError`` with a message fit to show a user.
"""

from __future__ import annotations

import re

import pycountry

_ROR = re.compile(r"^0[0-9a-hj-km-np-tv-z]{6}[0-9]{2}$")
_ORCID = re.compile(r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def country_code(value: str) -> str:
    """An ISO 3166-1 alpha-2 code, upper case."""
    code = value.strip().upper()
    if len(code) != 2 or not code.isascii() or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code")
    return code


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 country code")
    return country.name


def ror_id(value: str) -> str:
    """A ROR identifier (the 9-character form; a full https://ror.org/ URL is accepted)."""
    text = value.strip().lower().removeprefix("https://ror.org/").removeprefix("ror.org/")
    if not _ROR.fullmatch(text):
        raise ValueError(f"'{value}' is not a ROR id (9 characters such as 05a28rw58)")
    return text


def orcid(value: str) -> str:
    """An ORCID iD with a valid ISO 7064 MOD 11-2 check character (URL form accepted)."""
    text = value.strip().upper().removeprefix("HTTPS://ORCID.ORG/")
    if not _ORCID.fullmatch(text):
        raise ValueError(f"'{value}' is not an ORCID iD (0000-0000-0000-000X)")
    digits = text.replace("-", "")
    total = 0
    for char in digits[:-1]:
        total = (total + int(char)) * 2
    check = (12 - total % 11) % 11
    expected = "X" if check == 10 else str(check)
    if digits[-1] != expected:
        raise ValueError(f"'{value}' has a wrong ORCID check character")
    return text


def email_domain(value: str) -> str:
    """A DNS domain as used after the @ of an email address, lower case."""
    text = value.strip().lower().lstrip("@").rstrip(".")
    labels = text.split(".")
    if len(text) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"'{value}' is not an email domain such as example.org")
    return text
