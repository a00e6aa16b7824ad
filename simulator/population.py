"""Applications: who applies for what, from which device, and who is a fraudster.

``make_applications`` turns arrival times into one row per application with
every LoanApplication field (address and bureau flattened), the session's
device context, the hidden fraud type and ring, and latent truth columns.
Fraud patterns overwrite the genuine defaults of their rows:

* third_party: a real person's identity and bureau file, but a new device,
  phone and email, and an IP / geolocation / timezone from another country;
* synthetic: fabricated identity (often an impossible NINO prefix), thin or no
  file, throwaway email;
* ring: bursts of applications with different identities sharing a small
  pool of devices, IPs and phones (the velocity signal);
* bot: scripted sessions from emulators / headless browsers on cloud IPs;
* first_party: genuine identity that never intends to repay (inflated income,
  large amount, credit hunger).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from simulator import strings as S
from simulator import vocab as V
from simulator.config import SimConfig
from simulator.people import (
    COUNTRY_INDEX, _choice, country_index, country_octets, dob_strings, make_people, nino, phones,
    random_handles,
)

FRAUD_TYPES = ("none", "third_party", "synthetic", "ring", "bot", "first_party")
PRODUCTS = np.array(["CREDIT_CARD", "PERSONAL_LOAN", "BNPL"], dtype=object)
CHANNELS = np.array(["WEB", "APP", "PARTNER"], dtype=object)
CLOUD_OCTETS = np.array([34, 35, 52, 104, 138, 159, 167], dtype=np.int64)
TZ = np.array([c[1] for c in V.COUNTRIES], dtype=object)
OFFSET = np.array([c[2] for c in V.COUNTRIES], dtype=np.int32)
C_LAT = np.array([c[3] for c in V.COUNTRIES])
C_LON = np.array([c[4] for c in V.COUNTRIES])


def _rings(cfg: SimConfig, rng: np.random.Generator, times: np.ndarray, span_ms: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place ring bursts: returns (times, ring index per row or -1, number of rings)."""
    n = len(times)
    f = cfg.fraud
    ring = np.full(n, -1, dtype=np.int64)
    n_rings = int(rng.poisson(n * f.ring_rate / f.ring_size_mean)) if n else 0
    if n_rings == 0:
        return times, ring, np.zeros(0, np.int64)
    sizes = 2 + rng.poisson(f.ring_size_mean - 2, n_rings)
    keep = np.cumsum(sizes) <= n // 2
    sizes = sizes[keep]
    if len(sizes) == 0:
        return times, ring, np.zeros(0, np.int64)
    total = int(sizes.sum())
    slots = rng.choice(n, total, replace=False)
    member_ring = np.repeat(np.arange(len(sizes)), sizes)
    t0, t1 = int(times.min()), int(times.max())
    span = min(span_ms, max(t1 - t0, 1))
    starts = t0 + (rng.random(len(sizes)) * max(t1 - t0 - span, 0)).astype(np.int64)
    t = times.copy()
    t[slots] = starts[member_ring] + (rng.random(total) * span).astype(np.int64)
    ring[slots] = member_ring
    order = np.argsort(t, kind="stable")
    return t[order], ring[order], sizes


def make_applications(cfg: SimConfig, rng: np.random.Generator, arrival_ms: np.ndarray,
                      ring_span_ms: int, prior: pd.DataFrame | None = None,
                      ring_offset: int = 0) -> pd.DataFrame:
    """One row per arrival; ``prior`` people may come back as repeat applicants."""
    times, ring, sizes = _rings(cfg, rng, np.asarray(arrival_ms, dtype=np.int64), ring_span_ms)
    n = len(times)
    f, pop = cfg.fraud, cfg.population
    # --- fraud type per row -------------------------------------------------
    other = np.array([f.third_party_rate, f.synthetic_rate, f.bot_rate, f.first_party_rate])
    other = other / max(1 - f.ring_rate, 1e-9)
    code = _choice(rng, n, np.append(other, max(1 - other.sum(), 0)))
    ftype = np.array(["third_party", "synthetic", "bot", "first_party", "none"], object)[code]
    ftype[ring >= 0] = "ring"
    # --- people, with repeat applicants pointing at earlier people ----------
    people = make_people(cfg, rng, times)
    k = 0 if prior is None else len(prior)
    pool = people if prior is None or k == 0 else pd.concat([prior[people.columns], people],
                                                            ignore_index=True)
    src = np.arange(n) + k
    genuine = ftype == "none"
    want_repeat = genuine & (rng.random(n) < pop.repeat_share)
    first_timer = genuine & ~want_repeat
    before = np.cumsum(first_timer) - first_timer  # first-timers strictly before each row
    candidates = before + k
    is_repeat = want_repeat & (candidates > 0)
    pick = (rng.random(n) * candidates).astype(np.int64)
    ft_pos = np.flatnonzero(first_timer)
    from_batch = pick >= k
    idx = np.where(from_batch, ft_pos[np.clip(pick - k, 0, max(len(ft_pos) - 1, 0))] + k
                   if len(ft_pos) else 0, pick)
    src = np.where(is_repeat, idx, src)
    a = pool.iloc[src].reset_index(drop=True)
    a["event_time"] = times
    a["fraud_type"] = ftype
    a["is_repeat"] = is_repeat
    a["ring_id"] = pd.array(np.where(ring >= 0, ring + ring_offset, -1), dtype="Int64")
    a.loc[ring < 0, "ring_id"] = pd.NA
    # repeat applicants: some come back on a new device; income drifts
    new_dev = is_repeat & (rng.random(n) < pop.repeat_new_device)
    a["device_id"] = S.where(new_dev, S.hex_ids(rng, n, "d-", 8), pa.array(a["device_id"]))
    a["idfv"] = S.where(new_dev, S.uuids(rng, n), pa.array(a["idfv"]))
    drift = np.where(is_repeat, rng.lognormal(0.02, 0.05, n), 1.0)
    a["annual_income"] = np.round(a["annual_income"].to_numpy() * drift, -2)
    a["latent_true_income"] = a["latent_true_income"].to_numpy() * drift
    a["customer_id"] = S.where(is_repeat & a["customer_id"].isna().to_numpy(),
                               S.join(["c-", pa.array(a["person_id"])]), pa.array(a["customer_id"]))
    _products(cfg, rng, a)
    _channel_and_device(cfg, rng, a)
    _fraud_overrides(cfg, rng, a, ring, sizes)
    a["application_id"] = S.hex_ids(rng, n, "a-", 8)
    a["session_id"] = S.hex_ids(rng, n, "s-", 8)
    return a


def _products(cfg: SimConfig, rng: np.random.Generator, a: pd.DataFrame) -> None:
    p = cfg.products
    n = len(a)
    age = a["latent_age"].to_numpy()
    income = a["latent_true_income"].to_numpy()
    w = np.stack([np.full(n, p.share_credit_card), np.full(n, p.share_personal_loan),
                  p.share_bnpl * np.where(age < 30, 2.0, 0.8)], axis=1)
    prod = _choice(rng, n, w)
    inc = np.maximum(income, 5_000)
    card = np.clip(np.round(p.card_limit_median * (inc / 30_000) ** 0.5 * rng.lognormal(0, 0.5, n), -2),
                   250, 25_000)
    loan = np.clip(np.round(p.loan_amount_median * (inc / 35_000) ** 0.6 * rng.lognormal(0, 0.6, n), -2),
                   1_000, 35_000)
    bnpl = np.clip(np.round(p.bnpl_amount_median * rng.lognormal(0, 0.7, n), 2), 30, 1_500)
    a["product"] = PRODUCTS[prod]
    a["requested_amount"] = np.select([prod == 0, prod == 1], [card, loan], bnpl)
    lt = np.asarray(p.loan_terms)[rng.integers(0, len(p.loan_terms), n)]
    bt = np.asarray(p.bnpl_terms)[rng.integers(0, len(p.bnpl_terms), n)]
    a["requested_term_months"] = np.select([prod == 0, prod == 1], [0, lt], bt).astype(np.int32)


def _channel_and_device(cfg: SimConfig, rng: np.random.Generator, a: pd.DataFrame) -> None:
    """Genuine session context: own device, home IP (sometimes carrier NAT), home location."""
    pop = cfg.population
    n = len(a)
    ch = _choice(rng, n, np.array([pop.channel_web, pop.channel_app, pop.channel_partner]))
    kind = a["device_kind"].to_numpy()
    web_i, app_i = kind % len(V.WEB_AGENTS), kind % len(V.APP_AGENTS)
    is_app = ch == 1
    a["channel"] = CHANNELS[ch]
    a["device_os"] = np.where(is_app, np.array([x[0] for x in V.APP_AGENTS], object)[app_i],
                              np.array([x[0] for x in V.WEB_AGENTS], object)[web_i])
    a["user_agent"] = np.where(is_app, np.array([x[1] for x in V.APP_AGENTS], object)[app_i],
                               np.array([x[1] for x in V.WEB_AGENTS], object)[web_i])
    a["idfv"] = S.where(is_app, pa.array(a["idfv"]), pa.nulls(n, pa.string()))
    ci = country_index(a["address_country"].to_numpy(object))
    nat = rng.random(n) < pop.shared_ip_share
    cgnat = S.join(["100.64.", S.ints(rng.integers(0, 4, n)), ".", S.ints(rng.integers(1, 40, n))])
    roam = a["is_repeat"].to_numpy() & (rng.random(n) < 0.5)
    fresh_ip = S.ipv4(rng, country_octets(rng, ci))
    a["ip"] = S.where(nat, cgnat, S.where(roam, fresh_ip, pa.array(a["home_ip"])))
    a["ip_country"] = a["address_country"].to_numpy(object)
    has_geo = is_app | (rng.random(n) < 0.5)
    a["geo_lat"] = np.where(has_geo, a["home_lat"].to_numpy() + rng.normal(0, 0.02, n), np.nan)
    a["geo_lon"] = np.where(has_geo, a["home_lon"].to_numpy() + rng.normal(0, 0.03, n), np.nan)
    a["geo_country"] = np.where(has_geo, a["address_country"].to_numpy(object), None)
    a["timezone"] = TZ[ci]
    a["utc_offset_minutes"] = OFFSET[ci]
    a["emulator"] = rng.random(n) < 0.002
    a["rooted"] = a["latent_rooted"].to_numpy(bool)


def _set_origin(a: pd.DataFrame, rows: np.ndarray, origin_ci: np.ndarray, rng: np.random.Generator,
                geo_share: float = 0.8) -> None:
    """Move rows' IP, geolocation and timezone to the given countries."""
    m = int(rows.sum())
    if m == 0:
        return
    ip = a["ip"].to_numpy(object)
    ip[rows] = np.asarray(S.ipv4(rng, country_octets(rng, origin_ci)).to_pylist(), dtype=object)
    a["ip"] = ip
    code = np.array([c[0] for c in V.COUNTRIES], object)[origin_ci]
    for col, val in (("ip_country", code), ("timezone", TZ[origin_ci]),
                     ("utc_offset_minutes", OFFSET[origin_ci])):
        arr = a[col].to_numpy(copy=True)
        arr[rows] = val
        a[col] = arr
    geo = rng.random(m) < geo_share
    lat, lon, gc = a["geo_lat"].to_numpy(copy=True), a["geo_lon"].to_numpy(copy=True), \
        a["geo_country"].to_numpy(object, copy=True)
    lat[rows] = np.where(geo, C_LAT[origin_ci] + rng.normal(0, 0.3, m), np.nan)
    lon[rows] = np.where(geo, C_LON[origin_ci] + rng.normal(0, 0.3, m), np.nan)
    gc[rows] = np.where(geo, code, None)
    a["geo_lat"], a["geo_lon"], a["geo_country"] = lat, lon, gc


def _set(a: pd.DataFrame, col: str, rows: np.ndarray, values: object) -> None:
    arr = a[col].to_numpy(copy=True) if not isinstance(a[col].dtype, pd.StringDtype) \
        else a[col].to_numpy(object, copy=True)
    arr[rows] = values
    a[col] = arr


def _fraud_origin(rng: np.random.Generator, m: int) -> np.ndarray:
    w = np.asarray(V.FRAUD_ORIGIN_WEIGHTS, float)
    codes = np.asarray(V.FRAUD_ORIGIN, object)[_choice(rng, m, w / w.sum())]
    return np.array([COUNTRY_INDEX[c] for c in codes], dtype=np.int64)


def _fabricate(cfg: SimConfig, rng: np.random.Generator, a: pd.DataFrame, rows: np.ndarray) -> None:
    """Synthetic identity details: impossible NINOs, young, thin or no file, inflated income."""
    m = int(rows.sum())
    if m == 0:
        return
    _set(a, "national_id", rows, np.asarray(nino(rng, m, bad_share=0.4).to_pylist(), object))
    age = rng.uniform(20, 36, m)
    _set(a, "latent_age", rows, age)
    _set(a, "date_of_birth", rows, dob_strings(age, a["event_time"].to_numpy()[rows]))
    _set(a, "email", rows, np.asarray(random_handles(rng, m).to_pylist(), object))
    no_file = rng.random(m) < 0.6
    _set(a, "has_file", rows, ~no_file)
    _set(a, "bureau_thin_file", rows, True)
    _set(a, "bureau_score", rows, np.clip(rng.normal(610, 30, m), 300, 850).astype(np.int32))
    _set(a, "bureau_delinquencies_24m", rows, 0)
    _set(a, "bureau_inquiries_6m", rows, rng.integers(1, 5, m).astype(np.int32))
    _set(a, "bureau_file_age_months", rows, rng.integers(2, 18, m).astype(np.int32))
    _set(a, "bureau_open_accounts", rows, rng.integers(0, 3, m).astype(np.int32))
    _set(a, "employment_status", rows, "EMPLOYED")
    _set(a, "annual_income", rows, np.round(rng.uniform(35_000, 65_000, m), -3))
    _set(a, "customer_id", rows, None)


def _fraud_overrides(cfg: SimConfig, rng: np.random.Generator, a: pd.DataFrame,
                     ring: np.ndarray, sizes: np.ndarray) -> None:
    n = len(a)
    ft = a["fraud_type"].to_numpy(object)
    fraud = ft != "none"
    # every fraudster: no existing customer relationship, new device, bigger ask
    _set(a, "customer_id", fraud & (ft != "first_party"), None)
    newdev = fraud & (ft != "first_party")
    _set(a, "device_id", newdev, np.asarray(S.hex_ids(rng, int(newdev.sum()), "d-", 8).to_pylist(), object))
    amt = a["requested_amount"].to_numpy(copy=True)
    amt[fraud] = np.round(amt[fraud] * rng.uniform(1.2, 2.0, int(fraud.sum())), 0)
    a["requested_amount"] = amt
    # third party: real identity; fraudster's own phone, email and location
    tp = ft == "third_party"
    m = int(tp.sum())
    _set(a, "phone", tp, np.asarray(phones(rng, np.full(m, COUNTRY_INDEX["GB"])).to_pylist(), object))
    _set(a, "email", tp, np.asarray(random_handles(rng, m).to_pylist(), object))
    _set_origin(a, tp, _fraud_origin(rng, m), rng)
    # synthetic identities (and half of ring / bot identities)
    fab = (ft == "synthetic") | (np.isin(ft, ["ring", "bot"]) & (rng.random(n) < 0.5))
    _fabricate(cfg, rng, a, fab)
    syn = ft == "synthetic"
    _set(a, "phone", syn, np.asarray(phones(rng, np.full(int(syn.sum()), COUNTRY_INDEX["GB"])).to_pylist(), object))
    vpn = syn & (rng.random(n) < 0.4)
    _set_origin(a, vpn, _fraud_origin(rng, int(vpn.sum())), rng, geo_share=0.3)
    # rings: shared pools of devices, IPs and phones per ring
    if len(sizes):
        r = len(sizes)
        pm = cfg.fraud.ring_pool_max
        member = ring >= 0
        ri = ring[member]
        for col, make in (
            ("device_id", lambda k: S.hex_ids(rng, k, "d-", 8)),
            ("phone", lambda k: phones(rng, np.full(k, COUNTRY_INDEX["GB"]))),
        ):
            psize = rng.integers(1, pm + 1, r)
            pool = np.asarray(make(int(psize.sum())).to_pylist(), object)
            off = np.cumsum(psize) - psize
            _set(a, col, member, pool[off[ri] + (rng.random(len(ri)) * psize[ri]).astype(np.int64)])
        origin = np.where(rng.random(r) < 0.5, COUNTRY_INDEX["GB"], _fraud_origin(rng, r))
        psize = rng.integers(1, pm + 1, r)
        off = np.cumsum(psize) - psize
        ip_pool = np.asarray(S.ipv4(rng, country_octets(rng, np.repeat(origin, psize))).to_pylist(), object)
        _set_origin(a, member, origin[ri], rng)
        _set(a, "ip", member, ip_pool[off[ri] + (rng.random(len(ri)) * psize[ri]).astype(np.int64)])
        _set(a, "email", member, np.asarray(random_handles(rng, len(ri)).to_pylist(), object))
        _set(a, "emulator", member, rng.random(len(ri)) < 0.3)
    # bots: emulators / headless browsers on cloud IPs
    bot = ft == "bot"
    m = int(bot.sum())
    if m:
        b = rng.integers(0, len(V.BOT_AGENTS), m)
        _set(a, "device_os", bot, np.array([x[0] for x in V.BOT_AGENTS], object)[b])
        _set(a, "user_agent", bot, np.array([x[1] for x in V.BOT_AGENTS], object)[b])
        _set(a, "emulator", bot, rng.random(m) < 0.75)
        _set(a, "ip", bot, np.asarray(S.ipv4(rng, CLOUD_OCTETS[rng.integers(0, len(CLOUD_OCTETS), m)])
                                      .to_pylist(), object))
        _set(a, "ip_country", bot, np.where(rng.random(m) < 0.6, "US", "DE"))
        _set(a, "geo_lat", bot, np.nan)
        _set(a, "geo_lon", bot, np.nan)
        _set(a, "geo_country", bot, None)
        _set(a, "email", bot, np.asarray(random_handles(rng, m).to_pylist(), object))
    # first party: genuine identity, inflated income, credit hungry
    fp = ft == "first_party"
    m = int(fp.sum())
    if m:
        _set(a, "annual_income", fp, np.round(a["annual_income"].to_numpy()[fp] * rng.uniform(1.2, 1.6, m), -2))
        _set(a, "bureau_inquiries_6m", fp,
             (a["bureau_inquiries_6m"].to_numpy()[fp] + rng.poisson(2.5, m)).astype(np.int32))
