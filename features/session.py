"""Session features from the per-session summary kept in Redis (pure).

The summary is folded by ``lua/ingest.lua`` from device and behaviour events;
this module turns it into features. An application scored before (or without)
its session events gets the missing indicators set and the session features
missing (NaN) -- never an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from importlib import resources

Value = float | None


@cache
def timezone_countries() -> dict[str, frozenset[str]]:
    """IANA timezone -> ISO countries that use it, from the tz database's zone tables."""
    root = resources.files("tzdata") / "zoneinfo"
    out: dict[str, set[str]] = {}
    for name in ("zone.tab", "zone1970.tab"):
        for line in (root / name).read_text().splitlines():
            if not line or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) >= 3:
                out.setdefault(cols[2], set()).update(cols[0].split(","))
    return {tz: frozenset(cs) for tz, cs in out.items()}


def _flag(b: bool) -> float:
    return 1.0 if b else 0.0


def _mismatch(observed: str | None, country: str) -> Value:
    if not observed:
        return None
    return _flag(observed.upper() != country.upper())


def session_features(
    summary: Mapping[str, str], country: str, h_device: str, h_ip: str
) -> dict[str, Value]:
    """Features of one session summary (field -> string, as stored in Redis)."""
    out: dict[str, Value] = {}
    bn = int(summary.get("bn", 0) or 0)
    out["sess_behaviour_missing"] = _flag(bn == 0)
    if bn:
        bks = int(summary["bks"])
        out["sess_form_fill_seconds"] = (int(summary["bt1"]) - int(summary["bt0"])) / 1000.0
        out["sess_keystrokes"] = float(bks)
        if bks:
            s, sq = int(summary["bksum"]), int(summary["bksq"])
            # exact integer variance (tenths of ms), so the value never depends on order
            var = (bks * sq - s * s) / (bks * bks)
            out["sess_keystroke_interval_mean_ms"] = s / bks / 10.0
            out["sess_keystroke_interval_std_ms"] = math.sqrt(max(var, 0.0)) / 10.0
        else:
            out["sess_keystroke_interval_mean_ms"] = None
            out["sess_keystroke_interval_std_ms"] = None
        out["sess_paste_count"] = float(int(summary["bpaste"]))
        out["sess_corrections"] = float(int(summary["bcorr"]))
        out["sess_pages"] = float(int(summary["bpv"]))
    else:
        for k in ("sess_form_fill_seconds", "sess_keystrokes", "sess_keystroke_interval_mean_ms",
                  "sess_keystroke_interval_std_ms", "sess_paste_count", "sess_corrections",
                  "sess_pages"):
            out[k] = None
    dn = int(summary.get("dn", 0) or 0)
    out["sess_device_missing"] = _flag(dn == 0)
    if dn:
        out["sess_emulator"] = float(int(summary["demu"]))
        out["sess_rooted"] = float(int(summary["droot"]))
        out["sess_ip_country_mismatch"] = _mismatch(summary.get("dipc"), country)
        out["sess_geo_country_mismatch"] = _mismatch(summary.get("dgeoc"), country)
        tz = summary.get("dtz") or ""
        countries = timezone_countries().get(tz)
        out["sess_timezone_mismatch"] = (
            None if countries is None else _flag(country.upper() not in countries)
        )
        out["sess_ip_mismatch"] = _flag(summary.get("dip") != h_ip)
        out["sess_device_mismatch"] = _flag(summary.get("ddev") != h_device)
    else:
        for k in ("sess_emulator", "sess_rooted", "sess_ip_country_mismatch",
                  "sess_geo_country_mismatch", "sess_timezone_mismatch", "sess_ip_mismatch",
                  "sess_device_mismatch"):
            out[k] = None
    return out
