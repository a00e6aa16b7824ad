"""The simulated world: determinism, configured rates, fraud patterns, transitions, oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from schemas import codec_for
from schemas.topics import BY_NAME
from simulator.chain import ChainParams, prob_ever_reach, simulate
from simulator.config import SimConfig
from simulator.errors import SimulatorError
from simulator.history import History, event_log, generate_history, read_history, write_history

N = 20_000


@pytest.fixture(scope="module")
def cfg() -> SimConfig:
    return SimConfig()


@pytest.fixture(scope="module")
def hist(cfg: SimConfig) -> History:
    return generate_history(cfg, N, 6, seed=11)


def test_same_seed_same_world_and_other_seed_differs(cfg: SimConfig) -> None:
    a, b = generate_history(cfg, 2_000, 2, 5), generate_history(cfg, 2_000, 2, 5)
    for name in ("applications", "device_events", "behaviour_events", "performance"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    c = generate_history(cfg, 2_000, 2, 6)
    assert not a.applications["application_id"].equals(c.applications["application_id"])


def test_configured_fraud_and_default_rates_are_reproduced(cfg: SimConfig, hist: History) -> None:
    a = hist.applications
    share = a["fraud_type"].value_counts(normalize=True)
    f = cfg.fraud
    for t, rate in (
        ("third_party", f.third_party_rate),
        ("synthetic", f.synthetic_rate),
        ("bot", f.bot_rate),
        ("first_party", f.first_party_rate),
        ("ring", f.ring_rate),
    ):
        assert abs(share.get(t, 0.0) - rate) < max(0.4 * rate, 0.003), (t, share.get(t))
    assert abs(a["label_default"].mean() - cfg.credit.target_default_rate) < 0.015
    assert abs(a["label_default"].mean() - a["oracle_pd"].mean()) < 0.01
    assert abs(a["label_fraud"].mean() - a["oracle_fraud"].mean()) < 0.006


def test_oracle_is_informative(hist: History) -> None:
    a = hist.applications
    auc_pd = roc_auc_score(a["label_default"], a["oracle_pd"])
    genuine = a[a["fraud_type"] == "none"]
    auc_pd_genuine = roc_auc_score(genuine["label_default"], genuine["oracle_pd"])
    auc_fraud = roc_auc_score(a["label_fraud"], a["oracle_fraud"])
    print(
        f"oracle AUC default {auc_pd:.3f} (genuine only {auc_pd_genuine:.3f}), "
        f"fraud {auc_fraud:.3f}"
    )
    assert auc_pd > 0.75 and auc_pd_genuine > 0.7 and auc_fraud > 0.9


def test_rings_burst_on_shared_identifiers(cfg: SimConfig, hist: History) -> None:
    a = hist.applications
    rings = a[a["fraud_type"] == "ring"]
    assert rings["ring_id"].notna().all() and rings["ring_id"].nunique() >= 10
    per_ring = rings.groupby("ring_id").agg(
        apps=("application_id", "size"),
        devices=("device_id", "nunique"),
        phones=("phone", "nunique"),
        ips=("ip", "nunique"),
        ids=("national_id", "nunique"),
        span=("event_time", lambda t: t.max() - t.min()),
    )
    pm = cfg.fraud.ring_pool_max
    assert (per_ring[["devices", "phones", "ips"]] <= pm).all().all()
    assert (per_ring["ids"] == per_ring["apps"]).mean() > 0.95  # different identities
    assert (per_ring["span"] <= cfg.fraud.ring_burst_hours * 3_600_000 + 60_000).all()
    # velocity: apps per device id is high for rings, ~1 for genuine applicants
    genuine = a[a["fraud_type"] == "none"]
    assert rings.groupby("device_id").size().mean() >= 3
    assert genuine.groupby("device_id").size().mean() < 1.2


def test_bots_fill_the_form_fast_with_constant_key_gaps(hist: History) -> None:
    a, b = hist.applications, hist.behaviour_events
    kind = a.set_index("session_id")["fraud_type"]
    b = b.assign(kind=b["session_id"].map(kind).to_numpy())
    dur = b.groupby("session_id")["event_time"].agg(lambda t: t.max() - t.min())
    dur_kind = kind.loc[dur.index]
    assert dur[dur_kind == "bot"].median() * 4 < dur[dur_kind == "none"].median()
    keys = b[b["event_type"] == "KEYSTROKE"]
    cv = keys.groupby("session_id")["inter_key_ms"].agg(lambda x: x.std() / x.mean()).dropna()
    cv_kind = kind.loc[cv.index]
    assert cv[cv_kind == "bot"].median() < 0.05 < cv[cv_kind == "none"].median()
    paste = b.assign(p=b["event_type"] == "PASTE").groupby("session_id")["p"].sum()
    assert (
        paste[kind.loc[paste.index] == "bot"].mean()
        > 5 * paste[kind.loc[paste.index] == "none"].mean()
    )


def test_third_party_fraud_shows_location_mismatch(hist: History) -> None:
    a = hist.applications
    mismatch = a["ip_country"] != a["address_country"]
    assert mismatch[a["fraud_type"] == "third_party"].mean() > 0.9
    assert mismatch[a["fraud_type"] == "none"].mean() < 0.02


def test_income_estimate_tracks_true_income_and_exposes_inflated_declarations(
    hist: History,
) -> None:
    a = hist.applications
    est = a["bureau_income_estimate"].astype(float)
    genuine = (a["fraud_type"] == "none") & est.notna()
    log_err = np.log(est[genuine] / a.loc[genuine, "latent_true_income"])
    assert abs(float(log_err.median())) < 0.02 and float(log_err.std()) < 0.2
    assert est[a["bureau_score"].isna()].isna().all()  # no file, no estimate
    ratio = a["annual_income"] / est
    fp, none = a["fraud_type"] == "first_party", a["fraud_type"] == "none"
    assert ratio[fp].median() > 1.25 > 1.05 > ratio[none].median()
    assert est[a["fraud_type"] == "synthetic"].isna().mean() > 0.6
    # credit stacking before a bust-out
    new = a["bureau_new_accounts_6m"].astype(float)
    assert new[fp].mean() > 1.0 > 0.5 > new[none].mean()
    assert (new.dropna() <= a.loc[new.notna(), "bureau_open_accounts"]).all()


def test_performance_follows_the_documented_transitions(hist: History) -> None:
    p = hist.performance
    snaps = p[p["status"] != "FRAUD_CONFIRMED"].sort_values(["loan_id", "month_on_book"])
    prev_dpd = snaps.groupby("loan_id")["days_past_due"].shift(1).fillna(0)
    step = snaps["days_past_due"] - prev_dpd
    # roll one bucket, stay, or cure to current; never skip a bucket
    assert ((step == 30) | (step == 0) | (snaps["days_past_due"] == 0)).all()
    assert (snaps.groupby("loan_id")["month_on_book"].diff().fillna(1) == 1).all()
    last = snaps.groupby("loan_id")["status"].transform("last")
    terminal = snaps["status"].isin(["CHARGED_OFF", "PAID_OFF"])
    assert (snaps.loc[terminal, "status"] == last[terminal]).all()  # nothing after terminal
    assert (snaps.loc[snaps["status"] == "CHARGED_OFF", "days_past_due"] == 180).all()
    fc = p[p["status"] == "FRAUD_CONFIRMED"]
    assert len(fc) == hist.applications["label_fraud"].sum()


def test_chain_dp_matches_simulation() -> None:
    n = 40_000
    rng = np.random.default_rng(0)
    params = ChainParams(
        np.full(n, 0.05),
        np.tile([0.4, 0.5, 0.7, 0.8, 0.9], (n, 1)),
        np.tile([0.3, 0.2, 0.1, 0.05, 0.02], (n, 1)),
        np.full(n, 0.01),
        np.zeros(n, np.int64),
    )
    exact = prob_ever_reach(params, 2, 6)[0]
    path = simulate(params, 6, rng)
    mc = ((path >= 2) & (path <= 6)).any(axis=1).mean()
    assert abs(exact - mc) < 0.01


def test_event_log_is_time_ordered_avro(hist: History) -> None:
    small = History(
        hist.applications.head(300),
        hist.device_events[
            hist.device_events["session_id"].isin(hist.applications["session_id"].head(300))
        ],
        hist.behaviour_events[
            hist.behaviour_events["session_id"].isin(hist.applications["session_id"].head(300))
        ],
        hist.performance.head(0),
    )
    last, n = 0, 0
    schema = {
        "loan.applications.v1": "loan_application",
        "device.events.v1": "device_event",
        "behaviour.events.v1": "behaviour_event",
    }
    for topic, key, rec in event_log(small):
        assert rec["event_time"] >= last
        last = rec["event_time"]
        codec = codec_for(schema[topic])
        assert codec.decode(codec.encode(rec))["event_time"] == rec["event_time"]
        assert key == rec.get("application_id", rec.get("session_id"))
        n += 1
    assert n == len(small.applications) + len(small.device_events) + len(small.behaviour_events)
    assert BY_NAME  # topic table imported


def test_history_parquet_roundtrip(tmp_path, hist: History) -> None:  # type: ignore[no-untyped-def]
    small = History(
        *(
            getattr(hist, n).head(500)
            for n in ("applications", "device_events", "behaviour_events", "performance")
        )
    )
    write_history(small, tmp_path)
    back = read_history(tmp_path)
    pd.testing.assert_frame_equal(back.applications, small.applications, check_dtype=False)
    with pytest.raises(SimulatorError):
        read_history(tmp_path / "nope")


def test_config_file_overrides_and_rejects_typos(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "sim.yaml"
    p.write_text("fraud:\n  bot_rate: 0.05\nlabels:\n  default_dpd: 90\n")
    c = SimConfig.from_file(p)
    assert c.fraud.bot_rate == 0.05 and c.labels.default_dpd == 90
    p.write_text("fraud:\n  bot_rat: 0.05\n")
    with pytest.raises(SimulatorError):
        SimConfig.from_file(p)
    assert (
        SimConfig.model_validate(__import__("yaml").safe_load(SimConfig().to_yaml())) == SimConfig()
    )
