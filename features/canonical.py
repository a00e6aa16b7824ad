"""Canonical forms of personal identifiers, before they are hashed.

A fraudster (or a careless typist) writes the same phone, email or address in
many ways: "07700 900123" and "+44 (0)7700 900123", "Jo.Smith+loans@GMail.com"
and "josmith@googlemail.com", "Flat 1, 14 Elm Court, e16an" and "14 elm ct E1 6AN".
Velocity, distinct counts, lists and graph links only work if every variant
resolves to one key, so every identifier passes through here and only the keyed
hash of the canonical form is ever stored (``features.identity``).

* phones: E.164 via Google's libphonenumber (``phonenumbers``), the national
  format read in the address country;
* emails: lower case; provider rules where the provider documents them (Gmail
  ignores dots and ``+tags`` and answers for googlemail.com; Outlook, iCloud,
  Fastmail and Proton deliver ``+tags`` to the base address; Proton ignores
  dots, hyphens and underscores);
* addresses: a premise key (house number or name plus street, abbreviations
  and punctuation folded, flat/unit/apartment designators dropped so every flat
  of a building is one premise) plus the postcode without spaces, plus country;
* names: a comparison key (accents, case, punctuation, titles removed).

Near matches (same date of birth and surname at one premise, an email that
differs only in its digits) are features, not keys: ``email_skeleton`` and
``person_key`` give the keys those features count on.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers

_NON_DIGIT = re.compile(r"[^0-9]+")
_DIGITS = re.compile(r"[0-9]+")
_WORDS = re.compile(r"[a-z0-9]+")
_POSTCODE_JUNK = re.compile(r"[^0-9A-Z]+")

# --- phones ---------------------------------------------------------------------------


_E164 = re.compile(r"\+[1-9][0-9]{1,16}")


@lru_cache(maxsize=1024)
def _national_prefix(country_code: int) -> re.Pattern[str] | None:
    """What libphonenumber strips from the start of a national number of this country
    calling code when it parses one (None: nothing)."""
    from phonenumbers import PhoneMetadata
    from phonenumbers.phonenumberutil import region_code_for_country_code

    meta = PhoneMetadata.metadata_for_region_or_calling_code(
        country_code, region_code_for_country_code(country_code))
    pattern = None if meta is None else meta.national_prefix_for_parsing
    return re.compile(pattern) if pattern else None


def _already_e164(raw: str) -> bool:
    """True when ``phone`` is certain to return ``raw`` itself, without a parse (a tenth of
    its cost): '+', a known country calling code, then a national number that does not
    start with 0 and that libphonenumber would strip no national prefix from. Then the
    parse keeps every digit and E.164 writes them back as they were (a number too short
    or too long for its country fails the parse, and keeps its digits: the same string).
    ``tests/unit/test_features_canonical.py`` checks it against the parse on many numbers."""
    if _E164.fullmatch(raw) is None:
        return False
    for n in (1, 2, 3):
        code = int(raw[1:1 + n])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            national = raw[1 + n:]
            if not national or national[0] == "0":
                return False
            prefix = _national_prefix(code)
            return prefix is None or prefix.match(national) is None
    return False


@lru_cache(maxsize=65536)
def phone(value: str, region: str = "GB") -> str:
    """E.164 form of a phone number; national formats are read in ``region``.

    A string libphonenumber cannot parse keeps its digits (with a leading +
    when it had one), so it still hashes alike with its own spacing variants.
    """
    raw = value.strip()
    if _already_e164(raw):
        return raw
    return _parsed(raw, region)


def _parsed(raw: str, region: str) -> str:
    """``phone`` through libphonenumber's parse (the reference for ``_already_e164``)."""
    try:
        num = phonenumbers.parse(raw, (region or "GB").upper())
    except phonenumbers.NumberParseException:
        digits = _NON_DIGIT.sub("", raw)
        return ("+" + digits) if raw.startswith("+") else digits
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


# --- emails ---------------------------------------------------------------------------

_GMAIL = "gmail.com"
#: domains that are one mailbox namespace: the alias and the canonical domain
_DOMAIN_ALIASES = {"googlemail.com": _GMAIL, "pm.me": "proton.me", "protonmail.com": "proton.me",
                   "protonmail.ch": "proton.me"}
#: providers that deliver local+tag@ to local@ (their documented sub-addressing)
_PLUS_TAGS = frozenset({
    _GMAIL, "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "live.co.uk", "msn.com",
    "icloud.com", "me.com", "mac.com", "fastmail.com", "fastmail.fm", "proton.me",
})
#: providers whose local part ignores these characters
_IGNORED = {_GMAIL: ".", "proton.me": ".-_"}


@lru_cache(maxsize=65536)
def email(value: str) -> str:
    """Canonical mailbox: lower case, provider aliases, dots and +tags where documented."""
    v = value.strip().lower()
    local, at, domain = v.rpartition("@")
    if not at:
        return v
    domain = domain.rstrip(".")
    domain = _DOMAIN_ALIASES.get(domain, domain)
    if domain in _PLUS_TAGS:
        local = local.split("+", 1)[0]
    for ch in _IGNORED.get(domain, ""):
        local = local.replace(ch, "")
    return f"{local}@{domain}"


def email_skeleton(canonical_email: str) -> str:
    """The canonical email without its digits: 'jsmith84@x' and 'jsmith85@x' share it."""
    local, _, domain = canonical_email.rpartition("@")
    return f"{_DIGITS.sub('', local)}@{domain}"


# --- addresses ------------------------------------------------------------------------

#: street-type words and their abbreviations, folded to one form (Royal Mail's usual ones)
_STREET_WORDS = {
    "street": "st", "str": "st", "road": "rd", "avenue": "ave", "av": "ave", "lane": "ln",
    "drive": "dr", "court": "ct", "crt": "ct", "place": "pl", "close": "cl", "crescent": "cres",
    "cresc": "cres", "cr": "cres", "gardens": "gdns", "gdn": "gdns", "garden": "gdns",
    "terrace": "ter", "terr": "ter", "square": "sq", "grove": "gr", "gro": "gr", "park": "pk",
    "parade": "pde", "mews": "mews", "hill": "hl", "way": "way", "walk": "wlk", "row": "row",
    "house": "ho", "hse": "ho", "building": "bldg", "buildings": "bldgs", "north": "n",
    "south": "s", "east": "e", "west": "w", "saint": "st", "highway": "hwy", "boulevard": "blvd",
}
#: words that introduce a flat or unit within a building; the next token is its number
_UNIT_WORDS = frozenset({"flat", "apartment", "apt", "unit", "suite", "room", "rm", "studio",
                         "maisonette"})
_FLOORS = frozenset({"ground", "first", "second", "third", "fourth", "top", "basement", "lower",
                     "upper"})


def _fold(text: str) -> str:
    """Lower case without accents: 'Crèche Café' -> 'creche cafe'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _unit_number(tok: str) -> bool:
    """A flat or unit number: '1', '3b', 'b', '12-14'."""
    return bool(tok) and (tok[:1].isdigit() or len(tok) == 1)


def _names_unit(seg: list[str]) -> bool:
    """True for an address part that only says which flat: 'flat 1', 'ground floor flat'."""
    if not any(t in _UNIT_WORDS or t in ("floor", "fl") for t in seg):
        return False
    rest = [t for t in seg if t not in _UNIT_WORDS and t not in _FLOORS
            and t not in ("floor", "fl") and not _unit_number(t)]
    return not rest


@lru_cache(maxsize=65536)
def premise(line1: str) -> str:
    """The building a first address line names: flat/unit designators dropped, street
    words abbreviated, punctuation and spacing folded ('Flat 1, 14 Elm Court' -> '14 elm ct').
    """
    text = _fold(line1).replace("'", "").replace("’", "").replace("/", " / ")
    text = re.sub(r"(\d)\s*-\s*(\d)", r"\1-\2", text)  # "14 - 16" and "14-16": one range
    segments = [re.findall(r"[a-z0-9]+(?:-[0-9]+)?|/", seg) for seg in text.split(",")]
    segments = [seg for seg in segments if seg]
    # a whole part naming only the flat ("Flat 1,", "Ground Floor Flat,") goes
    kept = [seg for seg in segments if not _names_unit(seg)] or segments[-1:]
    raw = [tok for seg in kept for tok in seg]
    tokens: list[str] = []
    i = 0
    while i < len(raw):
        tok, nxt = raw[i], raw[i + 1] if i + 1 < len(raw) else ""
        if nxt in ("floor", "fl") and (tok in _FLOORS or tok[:1].isdigit()):
            i += 2  # "2nd floor", "ground floor"
        elif tok in _UNIT_WORDS:
            i += 2 if _unit_number(nxt) else 1  # "flat 1", "apt 3b", "unit 7"
        elif tok == "/":
            tokens, i = [], i + 1  # "3/14 elm ct": flat 3 of number 14
        elif tok.isdigit() and len(nxt) == 1 and nxt.isalpha() and nxt not in "nsew":
            tokens.append(tok + nxt)  # "221 B Baker St" is 221b
            i += 2
        else:
            tokens.append(_STREET_WORDS.get(tok, tok))
            i += 1
    # a building name before "number street" is often left out: the number starts the key
    starts = [j for j, t in enumerate(tokens[:-1]) if t[:1].isdigit()]
    if starts:
        tokens = tokens[starts[-1]:]
    elif len(tokens) > 1 and tokens[-1][:1].isdigit():
        tokens = [tokens[-1], *tokens[:-1]]  # "Elm Court 14"
    return " ".join(tokens)


@lru_cache(maxsize=65536)
def postcode(value: str) -> str:
    """Postcode in upper case without spaces or punctuation ('e1 6an' -> 'E16AN')."""
    return _POSTCODE_JUNK.sub("", _fold(value).upper())


def address(line1: str, postcode_: str, country: str) -> str:
    """The address key: premise | postcode | country."""
    return f"{premise(line1)}|{postcode(postcode_)}|{country.strip().upper()}"


# --- names ----------------------------------------------------------------------------

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"})


def name(value: str) -> str:
    """A name for comparison: accents, case, punctuation and titles removed, spaces single
    ("Dr  Seán O'Brien-Smith" -> 'sean obriensmith')."""
    words = _fold(value).replace("'", "").replace("’", "").replace("-", "").split()
    kept = [w for w in ("".join(_WORDS.findall(w)) for w in words) if w and w not in _TITLES]
    return " ".join(kept)


def person_key(last_name: str, date_of_birth: str) -> str:
    """Surname and date of birth, the key of the 'same person, another identity' near match."""
    return f"{name(last_name)}|{date_of_birth.strip()}"
