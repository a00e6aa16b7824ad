"""The same identifier written the ways people write it, column-wise.

A family member, a repeat applicant or a ring member sharing an address rarely
types it exactly as the last person did: "Flat 2, 14 Elm Court" and "14 Elm Ct",
"E1 6AN" and "e16an", "+447700900123" and "07700 900123". The features must see
through these (``features.canonical``), so the simulated world writes them.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator import strings as S

_ABBREVIATIONS = (("Street", "St"), ("Road", "Rd"), ("Avenue", "Ave"), ("Lane", "Ln"),
                  ("Court", "Ct"), ("Close", "Cl"), ("Drive", "Dr"), ("Gardens", "Gdns"),
                  ("Crescent", "Cres"), ("Place", "Pl"), ("Terrace", "Ter"), ("Square", "Sq"))
_UNITS = ("Flat", "Flat", "Apartment", "Apt", "Unit")


def _mask(rng: np.random.Generator, n: int, p: float) -> pa.Array:
    return pa.array(rng.random(n) < p)


def address_variants(
    rng: np.random.Generator, line1: pa.Array, postcode: pa.Array, flats: bool = True
) -> tuple[pa.Array, pa.Array]:
    """Rewrite each address one of the usual ways: abbreviations, a flat prefix, a comma
    after the number, upper or lower case, a postcode without its space, a trailing space."""
    n = len(line1)
    out = S.as_str(line1)
    abbreviated = out
    for word, abbr in _ABBREVIATIONS:
        abbreviated = pc.replace_substring(abbreviated, word, abbr)
    out = pc.if_else(_mask(rng, n, 0.4), abbreviated, out)
    out = pc.if_else(_mask(rng, n, 0.25),
                     pc.replace_substring_regex(out, r"^(\d+[A-Za-z]?) ", r"\1, "), out)
    if flats:
        unit = S.join([S.pick(_UNITS, rng.integers(0, len(_UNITS), n)), " ",
                       S.ints(rng.integers(1, 12, n)), ", "])
        out = pc.if_else(_mask(rng, n, 0.5), S.join([unit, out]), out)
    case = rng.random(n)
    out = pc.if_else(pa.array(case < 0.1), pc.utf8_upper(out),
                     pc.if_else(pa.array(case > 0.92), pc.utf8_lower(out), out))
    out = pc.if_else(_mask(rng, n, 0.1), S.join([out, " "]), out)
    pc_out = S.as_str(postcode)
    pc_out = pc.if_else(_mask(rng, n, 0.3), pc.replace_substring(pc_out, " ", ""), pc_out)
    pc_out = pc.if_else(_mask(rng, n, 0.15), pc.utf8_lower(pc_out), pc_out)
    return out, pc_out


def phone_variants(rng: np.random.Generator, phone: pa.Array, p: float = 0.5) -> pa.Array:
    """UK numbers in national format ('+447700900123' -> '07700 900123') for a share ``p``."""
    ph = S.as_str(phone)
    national = pc.replace_substring_regex(ph, r"^\+44(\d{4})(\d+)$", r"0\1 \2")
    return pc.if_else(_mask(rng, len(ph), p), national, ph)
