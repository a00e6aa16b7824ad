"""Applications: who applies for what, from which device, and who is a fraudster.

``make_applications`` turns arrival times into one row per application with
every LoanApplication field (address and bureau flattened), the session's
device context, the hidden fraud type and ring, and latent truth columns.
Fraud patterns overwrite the genuine defaults of their rows:

* third_party: a real person's identity and bureau file, but a new device,
  phone and email, and an IP / geolocation / timezone from another country;
* synthetic: fabricated identity (often an impossible NINO prefix), thin or no
  file, no current-account turnover to estimate income from, throwaway email;
* ring, slow_ring, mule, identity_farm: organised groups (``simulator.rings``):
  bursts within hours on shared devices, and slower shapes over weeks sharing a
  costly identifier (address, employer, bank account);
* bot: scripted sessions from emulators / headless browsers on cloud IPs;
* first_party: genuine identity that never intends to repay (inflated income
  above what current-account turnover shows, large amount, credit hunger:
  recent inquiries and newly opened accounts).

Genuine applicants share identifiers too (``simulator.sharing``: families, office
IPs, student halls), and repeat applicants write their address another way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from simulator import strings as S
from simulator import vocab as V
from simulator.config import SimConfig
from simulator.people import (
    COUNTRY_INDEX,
    _choice,
    country_index,
    country_octets,
    dob_strings,
    make_people,
    nino,
    phones,
    random_handles,
    to_frame,
)
from simulator.rings import apply_shapes, organised_rate, place_groups, shape_names
from simulator.sharing import apply_sharing
from simulator.variants import address_variants, phone_variants

FRAUD_TYPES = ("none", "third_party", "synthetic", "ring", "slow_ring", "mule", "identity_farm",
               "bot", "first_party")
PRODUCTS = np.array(["CREDIT_CARD", "PERSONAL_LOAN", "BNPL"], dtype=object)
CHANNELS = np.array(["WEB", "APP", "PARTNER"], dtype=object)
CLOUD_OCTETS = np.array([34, 35, 52, 104, 138, 159, 167], dtype=np.int64)
TZ = np.array([c[1] for c in V.COUNTRIES], dtype=object)
OFFSET = np.array([c[2] for c in V.COUNTRIES], dtype=np.int32)
C_LAT = np.array([c[3] for c in V.COUNTRIES])
C_LON = np.array([c[4] for c in V.COUNTRIES])


def make_applications(
    cfg: SimConfig,
    rng: np.random.Generator,
    arrival_ms: np.ndarray,
    ring_span_ms: int,
    prior: dict[str, Any] | None = None,
    ring_offset: int = 0,
) -> pd.DataFrame:
    """One row per arrival; ``prior`` people may come back as repeat applicants."""
    return to_frame(build_applications(cfg, rng, arrival_ms, ring_span_ms, prior, ring_offset)[0])


def build_applications(
    cfg: SimConfig,
    rng: np.random.Generator,
    arrival_ms: np.ndarray,
    ring_span_ms: int,
    prior: dict[str, Any] | None = None,
    ring_offset: int = 0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Columns of the applications, and the people of this batch (a repeat pool for later)."""
    times, group, shapes, sizes = place_groups(
        cfg, rng, np.asarray(arrival_ms, dtype=np.int64), ring_span_ms)
    n = len(times)
    f, pop = cfg.fraud, cfg.population
    # --- fraud type per row -------------------------------------------------
    other = np.array([f.third_party_rate, f.synthetic_rate, f.bot_rate, f.first_party_rate])
    other = other / max(1 - organised_rate(cfg), 1e-9)
    code = _choice(rng, n, np.append(other, max(1 - other.sum(), 0)))
    ftype = np.array(["third_party", "synthetic", "bot", "first_party", "none"], object)[code]
    ftype[group >= 0] = shape_names(group, shapes)[group >= 0]
    ring = np.where(ftype == "ring", group, -1)
    # --- people, with repeat applicants pointing at earlier people ----------
    people = make_people(cfg, rng, times)
    k = 0 if prior is None else len(prior["person_id"])
    pool = people if prior is None or k == 0 else S.concat_cols(prior, people)
    genuine = ftype == "none"
    want_repeat = genuine & (rng.random(n) < pop.repeat_share)
    first_timer = genuine & ~want_repeat
    candidates = np.cumsum(first_timer) - first_timer + k  # first-timers strictly before, + prior
    is_repeat = want_repeat & (candidates > 0)
    pick = (rng.random(n) * candidates).astype(np.int64)
    ft_pos = np.flatnonzero(first_timer)
    in_batch = ft_pos[np.clip(pick - k, 0, len(ft_pos) - 1)] + k if len(ft_pos) else pick
    src = np.where(is_repeat, np.where(pick >= k, in_batch, pick), np.arange(n) + k)
    a = S.take_cols(pool, src)
    a["event_time"] = times
    a["fraud_type"] = ftype
    a["is_repeat"] = is_repeat
    a["ring_id"] = pa.array(np.where(group >= 0, group + ring_offset, 0), pa.int64(),
                            mask=group < 0)
    # repeat applicants: some come back on a new device; income drifts
    new_dev = is_repeat & (rng.random(n) < pop.repeat_new_device)
    S.set_rows(a, "device_id", new_dev, S.hex_ids(rng, int(new_dev.sum()), "d-", 8))
    S.set_rows(a, "idfv", new_dev, S.uuids(rng, int(new_dev.sum())))
    drift = np.where(is_repeat, rng.lognormal(0.02, 0.05, n), 1.0)
    a["annual_income"] = np.round(a["annual_income"] * drift, -2)
    a["latent_true_income"] = a["latent_true_income"] * drift
    a["bureau_income_estimate"] = np.round(a["bureau_income_estimate"] * drift, -2)
    known = is_repeat & pc.is_null(a["customer_id"]).to_numpy(zero_copy_only=False)
    a["customer_id"] = S.where(known, S.join(["c-", a["person_id"]]), a["customer_id"])
    _products(cfg, rng, a)
    _channel_and_device(cfg, rng, a)
    _rewrite_repeats(cfg, rng, a)
    _fraud_overrides(cfg, rng, a, ring, sizes)
    apply_shapes(cfg, rng, a, group, shapes, lambda m: _gb_phones(rng, m),
                 lambda m: random_handles(rng, m))
    a["genuine_sharing"] = pa.array(apply_sharing(cfg, rng, a), pa.string())
    a["application_id"] = S.hex_ids(rng, n, "a-", 8)
    a["session_id"] = S.hex_ids(rng, n, "s-", 8)
    return a, people


def _rewrite_repeats(cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any]) -> None:
    """Some repeat applicants write their address and phone another way this time."""
    rows = np.asarray(a["is_repeat"], bool) & (
        rng.random(len(a["event_time"])) < cfg.population.address_variant_share)
    idx = np.flatnonzero(rows)
    if len(idx) == 0:
        return
    line1, post = address_variants(rng, S.take(S.as_str(a["address_line1"]), idx),
                                   S.take(S.as_str(a["address_postcode"]), idx), flats=False)
    S.set_rows(a, "address_line1", rows, line1)
    S.set_rows(a, "address_postcode", rows, post)
    S.set_rows(a, "phone", rows, phone_variants(rng, S.take(S.as_str(a["phone"]), idx)))


def _products(cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any]) -> None:
    p = cfg.products
    n = len(a["event_time"])
    age = a["latent_age"]
    inc = np.maximum(a["latent_true_income"], 5_000)
    w = np.stack(
        [
            np.full(n, p.share_credit_card),
            np.full(n, p.share_personal_loan),
            p.share_bnpl * np.where(age < 30, 2.0, 0.8),
        ],
        axis=1,
    )
    prod = _choice(rng, n, w)
    card = np.clip(
        np.round(p.card_limit_median * (inc / 30_000) ** 0.5 * rng.lognormal(0, 0.5, n), -2),
        250,
        25_000,
    )
    loan = np.clip(
        np.round(p.loan_amount_median * (inc / 35_000) ** 0.6 * rng.lognormal(0, 0.6, n), -2),
        1_000,
        35_000,
    )
    bnpl = np.clip(np.round(p.bnpl_amount_median * rng.lognormal(0, 0.7, n), 2), 30, 1_500)
    a["product"] = S.pick(PRODUCTS, prod)
    a["product_code"] = prod
    a["requested_amount"] = np.select([prod == 0, prod == 1], [card, loan], bnpl)
    lt = np.asarray(p.loan_terms)[rng.integers(0, len(p.loan_terms), n)]
    bt = np.asarray(p.bnpl_terms)[rng.integers(0, len(p.bnpl_terms), n)]
    a["requested_term_months"] = np.select([prod == 0, prod == 1], [0, lt], bt).astype(np.int32)


def _channel_and_device(cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any]) -> None:
    """Genuine session context: own device, home IP (sometimes carrier NAT), home location."""
    pop = cfg.population
    n = len(a["event_time"])
    ch = _choice(rng, n, np.array([pop.channel_web, pop.channel_app, pop.channel_partner]))
    kind = a["device_kind"]
    web_i, app_i = kind % len(V.WEB_AGENTS), kind % len(V.APP_AGENTS)
    is_app = ch == 1
    a["channel"] = S.pick(CHANNELS, ch)
    a["device_os"] = S.where(
        is_app,
        S.pick([x[0] for x in V.APP_AGENTS], app_i),
        S.pick([x[0] for x in V.WEB_AGENTS], web_i),
    )
    a["user_agent"] = S.where(
        is_app,
        S.pick([x[1] for x in V.APP_AGENTS], app_i),
        S.pick([x[1] for x in V.WEB_AGENTS], web_i),
    )
    a["idfv"] = S.where(is_app, a["idfv"], pa.nulls(n, pa.string()))
    ci = country_index(a["address_country"].to_numpy(zero_copy_only=False))
    nat = rng.random(n) < pop.shared_ip_share
    cgnat = S.join(["100.64.", S.ints(rng.integers(0, 4, n)), ".", S.ints(rng.integers(1, 40, n))])
    roam = a["is_repeat"] & (rng.random(n) < 0.5)
    fresh_ip = S.ipv4(rng, country_octets(rng, ci))
    a["ip"] = S.where(nat, cgnat, S.where(roam, fresh_ip, a["home_ip"]))
    a["ip_country"] = a["address_country"]
    has_geo = is_app | (rng.random(n) < 0.5)
    a["geo_lat"] = np.where(has_geo, a["home_lat"] + rng.normal(0, 0.02, n), np.nan)
    a["geo_lon"] = np.where(has_geo, a["home_lon"] + rng.normal(0, 0.03, n), np.nan)
    a["geo_country"] = S.where(has_geo, a["address_country"], pa.nulls(n, pa.string()))
    a["timezone"] = S.pick(TZ, ci)
    a["utc_offset_minutes"] = OFFSET[ci]
    a["emulator"] = rng.random(n) < 0.002
    a["rooted"] = a["latent_rooted"].copy()


def _set_origin(
    a: dict[str, Any],
    rows: np.ndarray,
    origin_ci: np.ndarray,
    rng: np.random.Generator,
    geo_share: float = 0.8,
) -> None:
    """Move rows' IP, geolocation and timezone to the given countries."""
    m = int(rows.sum())
    if m == 0:
        return
    code = np.array([c[0] for c in V.COUNTRIES], object)[origin_ci]
    S.set_rows(a, "ip", rows, S.ipv4(rng, country_octets(rng, origin_ci)))
    S.set_rows(a, "ip_country", rows, pa.array(code, pa.string()))
    S.set_rows(a, "timezone", rows, pa.array(TZ[origin_ci], pa.string()))
    S.set_rows(a, "utc_offset_minutes", rows, OFFSET[origin_ci])
    geo = rng.random(m) < geo_share
    S.set_rows(a, "geo_lat", rows, np.where(geo, C_LAT[origin_ci] + rng.normal(0, 0.3, m), np.nan))
    S.set_rows(a, "geo_lon", rows, np.where(geo, C_LON[origin_ci] + rng.normal(0, 0.3, m), np.nan))
    S.set_rows(a, "geo_country", rows, pa.array(np.where(geo, code, None), pa.string()))


def _fraud_origin(rng: np.random.Generator, m: int) -> np.ndarray:
    w = np.asarray(V.FRAUD_ORIGIN_WEIGHTS, float)
    codes = np.asarray(V.FRAUD_ORIGIN, object)[_choice(rng, m, w / w.sum())]
    return country_index(codes)


def _fabricate(rng: np.random.Generator, a: dict[str, Any], rows: np.ndarray) -> None:
    """Synthetic identity details: impossible NINOs, young, thin or no file, inflated income."""
    m = int(rows.sum())
    if m == 0:
        return
    set_ = S.set_rows
    set_(a, "national_id", rows, nino(rng, m, bad_share=0.4))
    age = rng.uniform(20, 36, m)
    set_(a, "latent_age", rows, age)
    set_(a, "date_of_birth", rows, dob_strings(age, a["event_time"][rows]))
    set_(a, "email", rows, random_handles(rng, m))
    set_(a, "has_file", rows, rng.random(m) >= 0.6)
    set_(a, "bureau_thin_file", rows, True)
    set_(a, "bureau_score", rows, np.clip(rng.normal(610, 30, m), 300, 850).astype(np.int32))
    set_(a, "bureau_delinquencies_24m", rows, 0)
    set_(a, "bureau_inquiries_6m", rows, rng.integers(1, 5, m).astype(np.int32))
    set_(a, "bureau_file_age_months", rows, rng.integers(2, 18, m).astype(np.int32))
    opened = rng.integers(0, 3, m).astype(np.int32)
    set_(a, "bureau_open_accounts", rows, opened)
    set_(a, "bureau_new_accounts_6m", rows, np.minimum(opened, rng.integers(0, 3, m)))
    # no real current account behind a made-up person: no turnover, or a trickle
    trickle = np.where(rng.random(m) < 0.2, np.round(rng.uniform(4_000, 15_000, m), -2), np.nan)
    set_(a, "bureau_income_estimate", rows, trickle)
    set_(a, "employment_status", rows, "EMPLOYED")
    set_(a, "annual_income", rows, np.round(rng.uniform(35_000, 65_000, m), -3))


def _gb_phones(rng: np.random.Generator, m: int) -> pa.Array:
    return phones(rng, np.full(m, COUNTRY_INDEX["GB"]))


def _fraud_overrides(
    cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any], ring: np.ndarray, sizes: np.ndarray
) -> None:
    set_ = S.set_rows
    ft = a["fraud_type"]
    n = len(ft)
    fraud = ft != "none"
    third = fraud & (ft != "first_party")
    # every third-party style fraudster: no customer relationship, new device, bigger ask
    set_(a, "customer_id", third, None)
    set_(a, "device_id", third, S.hex_ids(rng, int(third.sum()), "d-", 8))
    set_(
        a,
        "requested_amount",
        fraud,
        np.round(a["requested_amount"][fraud] * rng.uniform(1.2, 2.0, int(fraud.sum())), 0),
    )
    # third party: a real identity; the fraudster's own phone, email and location
    tp = np.isin(ft, ["third_party", "mule"])  # mules apply as stolen identities
    m = int(tp.sum())
    set_(a, "phone", tp, _gb_phones(rng, m))
    set_(a, "email", tp, random_handles(rng, m))
    _set_origin(a, tp, _fraud_origin(rng, m), rng)
    # synthetic identities (and half of ring / bot identities)
    fab = np.isin(ft, ["synthetic", "identity_farm"]) | (
        np.isin(ft, ["ring", "slow_ring", "bot"]) & (rng.random(n) < 0.5))
    _fabricate(rng, a, fab)
    syn = ft == "synthetic"
    set_(a, "phone", syn, _gb_phones(rng, int(syn.sum())))
    vpn = syn & (rng.random(n) < 0.4)
    _set_origin(a, vpn, _fraud_origin(rng, int(vpn.sum())), rng, geo_share=0.3)
    if len(sizes):
        _ring_pools(cfg, rng, a, ring, len(sizes))
    # bots: emulators / headless browsers on cloud IPs
    bot = ft == "bot"
    m = int(bot.sum())
    if m:
        b = rng.integers(0, len(V.BOT_AGENTS), m)
        set_(a, "device_os", bot, S.pick([x[0] for x in V.BOT_AGENTS], b))
        set_(a, "user_agent", bot, S.pick([x[1] for x in V.BOT_AGENTS], b))
        set_(a, "emulator", bot, rng.random(m) < 0.75)
        set_(a, "ip", bot, S.ipv4(rng, CLOUD_OCTETS[rng.integers(0, len(CLOUD_OCTETS), m)]))
        set_(a, "ip_country", bot, pa.array(np.where(rng.random(m) < 0.6, "US", "DE"), pa.string()))
        set_(a, "geo_lat", bot, np.nan)
        set_(a, "geo_lon", bot, np.nan)
        set_(a, "geo_country", bot, None)
        set_(a, "email", bot, random_handles(rng, m))
    # first party: genuine identity, inflated income, credit hungry
    fp = ft == "first_party"
    m = int(fp.sum())
    if m:
        set_(
            a, "annual_income", fp, np.round(a["annual_income"][fp] * rng.uniform(1.2, 1.6, m), -2)
        )
        set_(a, "bureau_inquiries_6m", fp, (a["bureau_inquiries_6m"][fp] + rng.poisson(2.5, m)))
        # credit stacking before the bust-out: several accounts opened in recent months
        stacked = rng.poisson(1.5, m)
        set_(a, "bureau_new_accounts_6m", fp, a["bureau_new_accounts_6m"][fp] + stacked)
        set_(a, "bureau_open_accounts", fp, a["bureau_open_accounts"][fp] + stacked)


def _ring_pools(
    cfg: SimConfig, rng: np.random.Generator, a: dict[str, Any], ring: np.ndarray, r: int
) -> None:
    """Each ring shares a small pool of devices, phones and IPs among its identities."""
    pm = cfg.fraud.ring_pool_max
    member = ring >= 0
    ri = ring[member]

    def from_pool(pool_of_size: Any) -> pa.Array:
        psize = rng.integers(1, pm + 1, r)
        pool = pool_of_size(psize)
        off = np.cumsum(psize) - psize
        return S.take(pool, off[ri] + (rng.random(len(ri)) * psize[ri]).astype(np.int64))

    S.set_rows(a, "device_id", member, from_pool(lambda s: S.hex_ids(rng, int(s.sum()), "d-", 8)))
    S.set_rows(a, "phone", member, from_pool(lambda s: _gb_phones(rng, int(s.sum()))))
    origin = np.where(rng.random(r) < 0.5, COUNTRY_INDEX["GB"], _fraud_origin(rng, r))
    _set_origin(a, member, origin[ri], rng)
    S.set_rows(
        a, "ip", member, from_pool(lambda s: S.ipv4(rng, country_octets(rng, np.repeat(origin, s))))
    )
    S.set_rows(a, "email", member, random_handles(rng, len(ri)))
    S.set_rows(a, "emulator", member, rng.random(len(ri)) < 0.3)
