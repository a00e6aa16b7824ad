"""Applicants: latent attributes, identity details and their own device.

One row per person. Attributes are drawn jointly (age drives employment,
income, housing and file depth; a latent credit quality drives the bureau
file), so the patterns look like a real book rather than independent noise.
Columns starting with ``latent_`` are unobservable truth, kept for the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from simulator import strings as S
from simulator import vocab as V
from simulator.config import PopulationConfig, SimConfig

EMPLOYMENT = np.array(
    ["EMPLOYED", "SELF_EMPLOYED", "UNEMPLOYED", "RETIRED", "STUDENT"], dtype=object
)
HOUSING = np.array(["OWN", "MORTGAGE", "RENT", "OTHER"], dtype=object)
COUNTRY_CODES = np.array([c[0] for c in V.COUNTRIES], dtype=object)
COUNTRY_INDEX = {c[0]: i for i, c in enumerate(V.COUNTRIES)}
NINO_LETTERS = np.array(list("ABCEGHJKLMNPRSTWXYZ"), dtype=object)
BAD_NINO_PREFIX = np.array(["BG", "GB", "NK", "KN", "TN", "NT", "ZZ"], dtype=object)
LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)


def _choice(rng: np.random.Generator, n: int, weights: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw; ``weights`` is (n, k) or (k,)."""
    w = np.broadcast_to(np.asarray(weights, dtype=float), (n, np.shape(weights)[-1]))
    c = np.cumsum(w, axis=1)
    u = rng.random(n)[:, None] * c[:, -1:]
    return np.minimum((u > c).sum(axis=1), w.shape[1] - 1)


def country_index(codes: np.ndarray) -> np.ndarray:
    return (
        np.array([COUNTRY_INDEX[c] for c in codes], dtype=np.int64)
        if len(codes)
        else np.zeros(0, int)
    )


def phones(rng: np.random.Generator, country_idx: np.ndarray) -> pa.Array:
    """E.164 numbers with the country's mobile prefix."""
    prefix = S.pick([c[5] for c in V.COUNTRIES], country_idx)
    digits = 13 - pc.utf8_length(prefix).to_numpy()  # 12-digit national part incl. prefix
    num = rng.integers(0, 10**9, size=len(country_idx)) % (10 ** np.clip(digits, 6, 9))
    return S.join([prefix, S.ints(num, 0)]) if len(country_idx) else pa.array([], pa.string())


def nino(rng: np.random.Generator, n: int, bad_share: float = 0.0) -> pa.Array:
    """UK National Insurance numbers; ``bad_share`` use prefixes HMRC never issues."""
    a = NINO_LETTERS[rng.integers(0, len(NINO_LETTERS), (2, n))]
    prefix = S.join([pa.array(a[0], pa.string()), pa.array(a[1], pa.string())])
    bad = rng.random(n) < bad_share
    prefix = S.where(bad, S.pick(BAD_NINO_PREFIX, rng.integers(0, len(BAD_NINO_PREFIX), n)), prefix)
    suffix = S.pick(["A", "B", "C", "D"], rng.integers(0, 4, n))
    return S.join([prefix, S.ints(rng.integers(0, 10**6, n), 6), suffix])


def emails(
    rng: np.random.Generator, first: pa.Array, last: pa.Array, throwaway: np.ndarray
) -> pa.Array:
    """first.last / flast with digits at a mainstream or throwaway domain."""
    n = len(first)
    f, l_ = pc.utf8_lower(first), pc.utf8_lower(last)
    style = rng.integers(0, 3, n)
    initial = pc.utf8_slice_codeunits(f, 0, 1)
    local = S.where(
        style == 0,
        S.join([f, ".", l_]),
        S.where(style == 1, S.join([initial, l_]), S.join([f, "_", l_])),
    )
    digits = S.ints(rng.integers(1, 9999, n))
    dom = S.where(
        throwaway,
        S.pick(V.THROWAWAY_DOMAINS, rng.integers(0, len(V.THROWAWAY_DOMAINS), n)),
        S.pick(V.EMAIL_DOMAINS, rng.integers(0, len(V.EMAIL_DOMAINS), n)),
    )
    return S.join([local, digits, "@", dom])


def random_handles(rng: np.random.Generator, n: int) -> pa.Array:
    """Email addresses of the kind synthetic identities use: random letters and digits."""
    return S.join(
        [
            S.hex_ids(rng, n, nbytes=5),
            "@",
            S.pick(V.THROWAWAY_DOMAINS, rng.integers(0, len(V.THROWAWAY_DOMAINS), n)),
        ]
    )


def addresses(rng: np.random.Generator, country: np.ndarray) -> dict[str, Any]:
    """Street address, city, postcode and home coordinates; GB detailed, abroad the capital."""
    n = len(country)
    w = np.asarray(V.CITY_WEIGHTS, float)
    city_i = _choice(rng, n, w / w.sum())
    cities = np.array([c[0] for c in V.GB_CITIES], dtype=object)[city_i]
    area = np.array([c[1] for c in V.GB_CITIES], dtype=object)[city_i]
    lat = np.array([c[2] for c in V.GB_CITIES])[city_i]
    lon = np.array([c[3] for c in V.GB_CITIES])[city_i]
    ci = country_index(country)
    abroad = country != "GB"
    cities = np.where(
        abroad, np.array([c[1].split("/")[-1] for c in V.COUNTRIES], object)[ci], cities
    )
    lat = np.where(abroad, np.array([c[3] for c in V.COUNTRIES])[ci], lat) + rng.normal(0, 0.04, n)
    lon = np.where(abroad, np.array([c[4] for c in V.COUNTRIES])[ci], lon) + rng.normal(0, 0.06, n)
    postcode = S.join(
        [
            pa.array(area, pa.string()),
            S.ints(rng.integers(1, 30, n)),
            " ",
            S.ints(rng.integers(1, 10, n)),
            S.pick(LETTERS, rng.integers(0, len(LETTERS), n)),
            S.pick(LETTERS, rng.integers(0, len(LETTERS), n)),
        ]
    )
    line1 = S.join(
        [
            S.ints(rng.integers(1, 220, n)),
            " ",
            S.pick(V.STREETS, rng.integers(0, len(V.STREETS), n)),
            " ",
            S.pick(V.STREET_SUFFIXES, rng.integers(0, len(V.STREET_SUFFIXES), n)),
        ]
    )
    return {
        "address_line1": line1,
        "address_city": pa.array(cities, pa.string()),
        "address_postcode": postcode,
        "address_country": pa.array(country, pa.string()),
        "home_lat": lat,
        "home_lon": lon,
    }


def dob_strings(age_years: np.ndarray, at_ms: np.ndarray) -> np.ndarray:
    """ISO birth dates for the given age at the given time."""
    days = (at_ms // 86_400_000 - np.round(age_years * 365.25)).astype("int64")
    return days.astype("datetime64[D]").astype(str).astype(object)


def make_people(cfg: SimConfig, rng: np.random.Generator, at_ms: np.ndarray) -> dict[str, Any]:
    """``len(at_ms)`` fresh, genuine people, as of the given times.

    The steps draw from ``rng`` in a fixed order (the same seed gives the same world), so
    they are called in sequence here rather than reordered."""
    n = len(at_ms)
    pop = cfg.population
    age = np.clip(rng.normal(40, 13, n), 18, 85)
    country, foreign = _home_countries(rng, pop, n)
    emp, tenure = _employment(rng, age)
    true_income, declared = _incomes(rng, pop, age, emp)
    housing = _housing(rng, age)
    credit = _credit(rng, pop, age, foreign, emp, housing)
    # what current-account turnover (CATO / open banking) says the applicant earns
    income_estimate = income_estimates(rng, true_income, emp, ~credit.no_file, pop)
    monthly_debt = np.round(
        true_income
        / 12
        * np.clip(rng.beta(2, 6, n) * np.exp(-0.2 * credit.quality), 0, 0.9)
        * (1 - credit.no_file * 0.7),
        0,
    )
    ci = country_index(country)
    cols: dict[str, Any] = {
        **_identity_columns(rng, age, at_ms, country, ci),
        "employment_status": S.pick(EMPLOYMENT, emp),
        "employment_months": tenure,
        "annual_income": declared,
        "monthly_debt_payments": monthly_debt,
        "housing_status": S.pick(HOUSING, housing),
        **credit.columns(),
        "bureau_income_estimate": income_estimate,
        **_device_and_customer_columns(rng, pop, ci),
        "latent_age": age,
        "latent_true_income": true_income,
        "latent_credit_quality": credit.quality,
        "latent_noise": rng.normal(0, 1, n),
        "latent_rooted": rng.random(n) < 0.02,
        **work_and_bank_columns(rng, emp),
    }
    return cols


def employers(rng: np.random.Generator, n: int) -> pa.Array:
    """Employer names: a third at a few large employers, the rest at many small firms."""
    large = S.pick(V.LARGE_EMPLOYERS, rng.integers(0, len(V.LARGE_EMPLOYERS), n))
    small = S.join([
        S.pick(V.EMPLOYER_STEMS, rng.integers(0, len(V.EMPLOYER_STEMS), n)), " ",
        S.pick(V.EMPLOYER_TRADES, rng.integers(0, len(V.EMPLOYER_TRADES), n)), " ",
        S.pick(V.EMPLOYER_FORMS, rng.integers(0, len(V.EMPLOYER_FORMS), n)),
    ])
    return S.where(rng.random(n) < 0.33, large, small)


def bank_accounts(rng: np.random.Generator, n: int) -> pa.Array:
    """UK sort code and account number, as 'NN-NN-NN NNNNNNNN'."""
    return S.join([
        S.pick(V.SORT_CODE_BANKS, rng.integers(0, len(V.SORT_CODE_BANKS), n)), "-",
        S.ints(rng.integers(0, 100, n), 2), "-", S.ints(rng.integers(0, 100, n), 2), " ",
        S.ints(rng.integers(0, 10**8, n), 8),
    ])


def work_and_bank_columns(rng: np.random.Generator, emp: np.ndarray) -> dict[str, Any]:
    """Employer (employed people only) and the bank account the credit is paid into."""
    n = len(emp)
    return {"employer": S.where(emp == 0, employers(rng, n), pa.nulls(n, pa.string())),
            "bank_account": bank_accounts(rng, n)}


def _home_countries(
    rng: np.random.Generator, pop: PopulationConfig, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(country code, lives abroad) per person: the home country but for a foreign share."""
    fw = np.asarray(V.FOREIGN_HOME_WEIGHTS, float)
    foreign = rng.random(n) < pop.foreign_share
    country = np.full(n, pop.home_country, dtype=object)
    country[foreign] = np.asarray(V.FOREIGN_HOME, object)[
        _choice(rng, int(foreign.sum()), fw / fw.sum())
    ]
    return country, foreign


def _employment(rng: np.random.Generator, age: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(employment status index into EMPLOYMENT, months in it), by age."""
    n = len(age)
    emp_w = np.stack(
        [
            np.full(n, 0.70),
            np.full(n, 0.12),
            np.full(n, 0.06),
            np.where(age > 63, 2.5, 0.002),
            np.where(age < 24, 0.6, 0.01),
        ],
        axis=1,
    )
    emp = _choice(rng, n, emp_w)
    tenure = np.clip(rng.lognormal(np.log(np.clip((age - 17) * 4, 3, 120)), 0.8), 0, 600).astype(
        np.int32
    )
    return emp, tenure


def _incomes(
    rng: np.random.Generator, pop: PopulationConfig, age: np.ndarray, emp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(true, declared) annual income: log-normal around an age hump, by employment; a
    share of applicants overstate what they earn."""
    n = len(age)
    base = np.array([32_000, 38_000, 9_000, 21_000, 7_000])[emp]
    hump = 1 + 0.6 * np.exp(-(((age - 47) / 15) ** 2))
    true_income = np.round(base * hump * rng.lognormal(0, 0.45, n), -2)
    overstate = rng.random(n) < pop.income_overstatement
    declared = np.where(overstate, true_income * rng.uniform(1.15, 1.8, n), true_income)
    return true_income, declared


def _housing(rng: np.random.Generator, age: np.ndarray) -> np.ndarray:
    """Housing status index into HOUSING, by age."""
    n = len(age)
    hw = np.stack(
        [
            np.where(age > 60, 3.0, 0.3),
            np.where((age > 28) & (age < 65), 2.5, 0.4),
            np.where(age < 35, 3.0, 1.2),
            np.full(n, 0.25),
        ],
        axis=1,
    )
    return _choice(rng, n, hw)


@dataclass(frozen=True)
class _Credit:
    """A latent credit quality and the bureau file it shows (one entry per person)."""

    quality: np.ndarray
    no_file: np.ndarray
    thin: np.ndarray
    score: np.ndarray
    inquiries: np.ndarray
    delinquencies: np.ndarray
    utilisation: np.ndarray
    file_age: np.ndarray
    open_accounts: np.ndarray
    new_accounts: np.ndarray

    def columns(self) -> dict[str, Any]:
        return {
            "has_file": ~self.no_file,
            "bureau_score": self.score.astype(np.int32),
            "bureau_inquiries_6m": self.inquiries.astype(np.int32),
            "bureau_delinquencies_24m": self.delinquencies.astype(np.int32),
            "bureau_utilisation": np.round(self.utilisation, 3),
            "bureau_file_age_months": self.file_age.astype(np.int32),
            "bureau_open_accounts": self.open_accounts.astype(np.int32),
            "bureau_thin_file": self.thin,
            "bureau_new_accounts_6m": self.new_accounts.astype(np.int32),
        }


def _credit(
    rng: np.random.Generator,
    pop: PopulationConfig,
    age: np.ndarray,
    foreign: np.ndarray,
    emp: np.ndarray,
    housing: np.ndarray,
) -> _Credit:
    """Latent credit quality (better with age and home ownership, worse when unemployed)
    and the bureau file it shows; the young and the foreign more often have no or a thin file."""
    n = len(age)
    q = rng.normal(0, 1, n) + 0.01 * (age - 40) + 0.25 * (housing <= 1) - 0.3 * (emp == 2)
    no_file = rng.random(n) < pop.no_file_share * np.where((age < 23) | foreign, 3.0, 0.7)
    thin = ~no_file & (rng.random(n) < pop.thin_file_share * np.where(age < 26, 2.5, 0.8))
    score = np.clip(np.round(690 + 65 * q + rng.normal(0, 25, n) - 40 * thin), 300, 850)
    inq = rng.poisson(np.exp(0.1 - 0.35 * q + 0.4 * (age < 30)))
    delinq = rng.poisson(np.exp(-1.6 - 0.9 * q))
    util = np.clip(rng.beta(2, 3, n) * np.exp(-0.35 * q) * 0.9, 0, 1.3)
    file_age = np.clip((age - 18) * 12 * rng.uniform(0.3, 1.0, n), 1, None).astype(np.int32)
    file_age = np.where(thin, np.minimum(file_age, rng.integers(2, 30, n)), file_age)
    open_acc = np.where(
        thin, rng.integers(0, 3, n), 2 + rng.poisson(3 + 0.3 * np.maximum(q, -2), n)
    )
    new_acc = np.minimum(rng.poisson(np.exp(-1.3 - 0.2 * q + 0.3 * (age < 30))), open_acc)
    return _Credit(q, no_file, thin, score, inq, delinq, util, file_age, open_acc, new_acc)


def _identity_columns(
    rng: np.random.Generator,
    age: np.ndarray,
    at_ms: np.ndarray,
    country: np.ndarray,
    ci: np.ndarray,
) -> dict[str, Any]:
    """Person id, name, birth date, national id, email, phone and home address columns."""
    n = len(age)
    first = S.pick(V.FIRST_NAMES, rng.integers(0, len(V.FIRST_NAMES), n))
    last = S.pick(V.LAST_NAMES, rng.integers(0, len(V.LAST_NAMES), n))
    return {
        "person_id": S.hex_ids(rng, n, "p-", 6),
        "first_name": first,
        "last_name": last,
        "date_of_birth": pa.array(dob_strings(age, at_ms), pa.string()),
        "national_id": nino(rng, n),
        "email": emails(rng, first, last, rng.random(n) < 0.01),
        "phone": phones(rng, ci),
        **addresses(rng, country),
    }


def _device_and_customer_columns(
    rng: np.random.Generator, pop: PopulationConfig, ci: np.ndarray
) -> dict[str, Any]:
    """The person's own device, home IP (geolocating to their country) and, for a share of
    them, an existing customer id."""
    n = len(ci)
    return {
        "device_id": S.hex_ids(rng, n, "d-", 8),
        "idfv": S.uuids(rng, n),
        "device_kind": rng.integers(0, 20, n).astype(np.int32),
        "home_ip": S.ipv4(rng, country_octets(rng, ci)),
        "customer_id": S.where(
            rng.random(n) < pop.known_customer_share,
            S.hex_ids(rng, n, "c-", 5),
            pa.nulls(n, pa.string()),
        ),
    }


def income_estimates(
    rng: np.random.Generator,
    true_income: np.ndarray,
    emp: np.ndarray,
    has_file: np.ndarray,
    pop: PopulationConfig,
) -> np.ndarray:
    """Bureau income estimate from current-account turnover: close to true income for
    salaries, looser for the self-employed, NaN where no account data is shared.

    This is how lenders verify declared income for affordability (UK CONC 5.2A),
    so a declared income far above it is observable, as it is in practice.
    """
    n = len(true_income)
    sd = np.where(emp == 1, pop.income_estimate_sd_self_employed, pop.income_estimate_sd)
    est = np.round(true_income * np.exp(sd * rng.standard_normal(n)), -2)
    shared = has_file & (rng.random(n) < pop.income_estimate_coverage)
    return np.where(shared, est, np.nan)


_OCTETS = np.array([[c[6][k % len(c[6])] for k in range(6)] for c in V.COUNTRIES], dtype=np.int64)


def country_octets(rng: np.random.Generator, ci: np.ndarray) -> np.ndarray:
    """First IP octet of a range that geolocates to each country."""
    return _OCTETS[ci, rng.integers(0, 6, len(ci))]


def to_frame(cols: dict[str, Any]) -> pd.DataFrame:
    """Columns (numpy or Arrow) to a pandas frame with Arrow-backed strings."""
    return pa.table(
        {k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in cols.items()}
    ).to_pandas()
