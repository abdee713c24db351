"""Public identifiers: ISO country codes, ORCID check characters, ROR ids, email domains."""

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicommons.identity import identifiers

ALPHA2 = sorted(c.alpha_2 for c in pycountry.countries)


def _orcid_with_check(digits: str) -> str:
    total = 0
    for char in digits:
        total = (total + int(char)) * 2
    check = (12 - total % 11) % 11
    full = digits + ("X" if check == 10 else str(check))
    return "-".join(full[i:i + 4] for i in range(0, 16, 4))


@given(st.sampled_from(ALPHA2), st.booleans())
def test_every_iso_code_is_accepted_in_any_case(code, lower):
    assert identifiers.country_code(code.lower() if lower else code) == code


@given(st.text(min_size=0, max_size=4))
def test_anything_else_is_refused_with_a_message(text):
    if text.strip().upper() in ALPHA2:
        return
    with pytest.raises(ValueError, match="ISO 3166-1 alpha-2"):
        identifiers.country_code(text)


@given(st.text(alphabet="0123456789", min_size=15, max_size=15))
def test_orcid_with_correct_check_character_is_accepted(digits):
    orcid = _orcid_with_check(digits)
    assert identifiers.orcid(orcid) == orcid
    assert identifiers.orcid("https://orcid.org/" + orcid) == orcid


@given(st.text(alphabet="0123456789", min_size=15, max_size=15), st.sampled_from("0123456789X"))
def test_orcid_with_any_other_check_character_is_refused(digits, wrong):
    orcid = _orcid_with_check(digits)
    if orcid[-1] == wrong:
        return
    with pytest.raises(ValueError, match="check character"):
        identifiers.orcid(orcid[:-1] + wrong)


def test_known_orcid_examples():
    # ORCID's own documented example iDs.
    assert identifiers.orcid("0000-0002-1825-0097") == "0000-0002-1825-0097"
    assert identifiers.orcid("0000-0001-5109-3700") == "0000-0001-5109-3700"
    assert identifiers.orcid("0000-0002-1694-233X") == "0000-0002-1694-233X"
    with pytest.raises(ValueError):
        identifiers.orcid("0000-0002-1825-0098")


@pytest.mark.parametrize("value", ["05a28rw58", "https://ror.org/05a28rw58", "ror.org/05A28RW58"])
def test_ror_ids(value):
    assert identifiers.ror_id(value) == "05a28rw58"


@pytest.mark.parametrize("value", ["5a28rw58", "05a28rw5", "05a28rwl8", "https://example.org/05a28rw58"])
def test_bad_ror_ids(value):
    with pytest.raises(ValueError, match="ROR"):
        identifiers.ror_id(value)


@pytest.mark.parametrize("value,expected", [("Example.ORG", "example.org"), ("@uni.example.", "uni.example"),
                                            ("a-b.c.example", "a-b.c.example")])
def test_email_domains(value, expected):
    assert identifiers.email_domain(value) == expected


@pytest.mark.parametrize("value", ["localhost", "-bad.example", "bad-.example", "sp ace.example", "a..b", ""])
def test_bad_email_domains(value):
    with pytest.raises(ValueError):
        identifiers.email_domain(value)


@pytest.mark.parametrize("value", ["example\n.org", "a.exa\nmple", "\u0660\u0665a28rw58"])
def test_identifiers_with_hidden_characters_are_refused(value):
    with pytest.raises(ValueError):
        identifiers.email_domain(value) if "." in value else identifiers.ror_id(value)
