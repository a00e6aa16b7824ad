"""Genuine sharing of identifiers, so that a shared identifier alone is not fraud.

* families: an applicant living with an earlier applicant -- same building (the
  address written their own way), same surname, the home IP, sometimes the
  family's tablet;
* offices: employed applicants applying from their employer's office IP;
* student halls: students in one building of many flats, on the campus IP.

``apply_sharing`` overwrites genuine rows only and returns, per row, which kind
of sharing it took part in ('' for none): the truth the false-positive rate on
genuine sharers is measured against.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simulator import strings as S
from simulator.config import SimConfig
from simulator.variants import address_variants

HALLS = ("Hollings", "Crescent", "Fallowfield", "Owens Park", "Richmond", "Unite Leeds Point")
#: how far back (in applications) a family member's earlier applicant is drawn from
_FAMILY_REACH = 400


def apply_sharing(cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any]) -> np.ndarray:
    """Genuine sharing on genuine rows; returns the sharing kind of each row."""
    n = len(a["fraud_type"])
    kind = np.full(n, "", dtype=object)
    genuine = np.asarray(a["fraud_type"] == "none")
    _families(cfg, rng, a, genuine, kind)
    _offices(cfg, rng, a, genuine, kind)
    _halls(cfg, rng, a, genuine, kind)
    return kind


def _families(cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any],
              genuine: np.ndarray, kind: np.ndarray) -> None:
    pos = np.flatnonzero(genuine)
    if len(pos) < 2:
        return
    member = rng.random(len(pos)) < cfg.population.family_share
    member[0] = False
    j = np.flatnonzero(member)  # index into pos
    back = 1 + (rng.random(len(j)) * np.minimum(j, _FAMILY_REACH)).astype(np.int64)
    src, dst = pos[j - back], pos[j]
    rows = np.zeros(len(kind), bool)
    rows[dst] = True
    line1, post = address_variants(rng, S.take(S.as_str(a["address_line1"]), src),
                                   S.take(S.as_str(a["address_postcode"]), src), flats=False)
    order = np.argsort(dst)  # set_rows fills rows in index order
    S.set_rows(a, "address_line1", rows, S.take(line1, order))
    S.set_rows(a, "address_postcode", rows, S.take(post, order))
    srt = src[order]
    for col in ("address_city", "address_country", "last_name", "home_ip"):
        if col in a:
            S.set_rows(a, col, rows, S.take(S.as_str(a[col]), srt))
    S.set_rows(a, "ip", rows, S.take(S.as_str(a["ip"]), srt))
    tablet = rows.copy()
    tablet[dst[order]] = rng.random(len(dst)) < 0.25
    dev_src = srt[tablet[dst[order]]]
    S.set_rows(a, "device_id", tablet, S.take(S.as_str(a["device_id"]), dev_src))
    kind[rows] = "family"
    kind[srt[kind[srt] == ""]] = "family"  # the earlier applicant shares too


def _offices(cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any],
             genuine: np.ndarray, kind: np.ndarray) -> None:
    employer = S.as_str(a["employer"])
    has = ~np.asarray(employer.is_null().to_numpy(zero_copy_only=False), bool)
    rows = genuine & has & (rng.random(len(kind)) < cfg.population.office_ip_share)
    if not rows.any():
        return
    names = S.take(employer, np.flatnonzero(rows)).to_numpy(zero_copy_only=False)
    h = pd.util.hash_array(names.astype(object)).astype(np.int64) & 0xFFFFFF
    ip = S.join(["195.", S.ints((h >> 16) % 250), ".", S.ints((h >> 8) % 250), ".",
                 S.ints(1 + h % 250)])
    S.set_rows(a, "ip", rows, ip)
    kind[rows & (kind == "")] = "office"


def _halls(cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any],
           genuine: np.ndarray, kind: np.ndarray) -> None:
    student = np.asarray(S.as_str(a["employment_status"]).to_numpy(zero_copy_only=False)
                         == "STUDENT")
    rows = genuine & student & (rng.random(len(kind)) < cfg.population.student_hall_share)
    m = int(rows.sum())
    if m == 0:
        return
    hall = rng.integers(0, len(HALLS), m)
    line1 = S.join(["Flat ", S.ints(rng.integers(1, 400, m)), ", ",
                    S.pick(HALLS, hall), " Hall, ", S.ints(10 + 3 * hall), " Oxford Road"])
    post = S.join(["M13 ", S.ints(hall), "PL"])
    line1, post = address_variants(rng, line1, post, flats=False)
    S.set_rows(a, "address_line1", rows, line1)
    S.set_rows(a, "address_postcode", rows, post)
    S.set_rows(a, "address_city", rows, "Manchester")
    S.set_rows(a, "address_country", rows, "GB")
    campus = rng.random(m) < 0.7
    ip_rows = rows.copy()
    ip_rows[rows] = campus
    S.set_rows(a, "ip", ip_rows, S.join(["130.88.", S.ints(hall[campus]), ".1"]))
    kind[rows & (kind == "")] = "halls"
