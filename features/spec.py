"""The one feature specification shared by training and serving.

Every feature the models and rules see is declared here, once: its name,
type, default when missing, description, family, and the reason code and
adverse-action text used when it drives a decline. ``FEATURE_SPEC.names``
orders the vector for both training and serving; ``FEATURE_SPEC.version``
is recorded with every decision and changes whenever a definition changes
(a content hash of the definitions plus ``SEMANTICS``, bumped by hand when
the computation changes without the declarations changing).

Reason metadata says when a feature's adverse-action text is TRUE of an applicant:
``adverse_below`` / ``adverse_above`` are the documented references (the text is
given only for a value on that side), and ``if_missing`` says what a missing value
may say instead (a `MissingReason`, true only when its indicator feature is set) --
TreeSHAP attributes risk to missing values too, and "Credit bureau score is too
low" is not a fact about an applicant without a bureau file. These fields change
what an applicant is told, not what is computed, so they are not in the version.
"""

from __future__ import annotations

from features.graph import COMPONENT_CAP, HUB
from features.spec_types import REASON_TRUTH_FIELDS as REASON_TRUTH_FIELDS
from features.spec_types import SEMANTICS as SEMANTICS
from features.spec_types import FeatureDef as FeatureDef
from features.spec_types import FeatureSpec as FeatureSpec
from features.spec_types import MissingReason as MissingReason
from features.spec_types import Value as Value

# --- the definitions -----------------------------------------------------------

_KIND_TEXT = {
    "id": ("ID", "identity (national id)", "the same identity"),
    "device": ("DEVICE", "device", "the same device"),
    "phone": ("PHONE", "phone number", "the same phone number"),
    "email": ("EMAIL", "email address", "the same email address"),
    "ip": ("IP", "IP address", "the same IP address"),
    "address": ("ADDR", "home address", "the same address"),
}
_WINDOW_TEXT = {"10m": "10 minutes", "1h": "hour", "24h": "24 hours", "7d": "7 days"}
#: which windows each identifier kind reports application counts for
VELOCITY_WINDOWS: dict[str, tuple[str, ...]] = {
    "id": ("10m", "1h", "24h", "7d"),
    "device": ("10m", "1h", "24h", "7d"),
    "phone": ("10m", "1h", "24h", "7d"),
    "email": ("10m", "1h", "24h", "7d"),
    "ip": ("10m", "1h", "24h", "7d"),
    "address": ("24h", "7d"),
}
LAST_SEEN_KINDS: tuple[str, ...] = ("id", "device", "phone", "email", "ip")
#: distinct counts: (feature name, kind whose state holds it, counted part, window)
DISTINCT: tuple[tuple[str, str, str, str], ...] = (
    ("dist_ids_per_device_24h", "device", "id", "24h"),
    ("dist_ids_per_device_7d", "device", "id", "7d"),
    ("dist_ids_per_ip_24h", "ip", "id", "24h"),
    ("dist_ids_per_ip_7d", "ip", "id", "7d"),
    ("dist_ids_per_phone_7d", "phone", "id", "7d"),
    ("dist_ids_per_email_7d", "email", "id", "7d"),
    ("dist_ids_per_address_7d", "address", "id", "7d"),
    ("dist_devices_per_id_7d", "id", "device", "7d"),
    ("dist_phones_per_id_7d", "id", "phone", "7d"),
    ("dist_emails_per_id_7d", "id", "email", "7d"),
)
_PART_TEXT = {"id": "identities", "device": "devices", "phone": "phone numbers",
              "email": "email addresses"}
#: "too many": more than this many of the counted part (one person may own two devices;
#: a household shares an address, a carrier or office shares an IP); else more than one
_DISTINCT_USUAL = {("ip", "id"): 2.0, ("address", "id"): 2.0, ("id", "device"): 2.0}
#: hours since a previous application that count as "recently" (7 days)
RECENT_HOURS = 168.0

# --- what a missing value may say (reason metadata) -------------------------------------
NO_FILE = MissingReason("F-BUR-NO-FILE", "No credit file found at the credit bureau",
                        "bureau_missing")
NO_BEHAVIOUR = MissingReason("F-SES-NO-BEHAVIOUR", "Application session data could not be "
                             "verified", "sess_behaviour_missing")
NO_DEVICE = MissingReason("F-SES-NO-DEVICE", "Device could not be verified",
                          "sess_device_missing")
#: a bureau file without current-account data (with no file at all, NO_FILE says it)
NO_ACCOUNT_DATA = MissingReason("F-BUR-NO-ACCOUNT-DATA",
                                "No current-account data to verify income")


def _velocity() -> list[FeatureDef]:
    defs = []
    for kind, windows in VELOCITY_WINDOWS.items():
        code, noun, same = _KIND_TEXT[kind]
        for w in windows:
            defs.append(FeatureDef(
                f"vel_{kind}_apps_{w}", "count", 0.0,
                f"Applications (this one included) with the same {noun} whose event time is "
                f"within the last {_WINDOW_TEXT[w]} of this application's event time.",
                "velocity", f"F-VEL-{code}-{w.upper()}",
                f"Too many recent applications from {same}", 1,
                adverse_above=2.0 if kind == "address" else 1.0))
    for kind in LAST_SEEN_KINDS:
        code, noun, same = _KIND_TEXT[kind]
        defs.append(FeatureDef(
            f"vel_{kind}_hours_since_prev", "float", None,
            f"Hours since the previous application with the same {noun} (event time); "
            "missing if none within 30 days.",
            "velocity", f"F-VEL-{code}-RECENT",
            f"Another application was recently made with {same}", -1,
            adverse_below=RECENT_HOURS))
    return defs


def _distinct() -> list[FeatureDef]:
    defs = []
    for name, kind, part, w in DISTINCT:
        code = _KIND_TEXT[kind][0]
        pcode = _KIND_TEXT[part][0]
        defs.append(FeatureDef(
            name, "count", 1.0,
            f"Distinct {_PART_TEXT[part]} seen with this application's {_KIND_TEXT[kind][1]} "
            f"in the last {_WINDOW_TEXT[w]} (this one included).",
            "distinct", f"F-DST-{pcode}-PER-{code}-{w.upper()}",
            f"Too many different {_PART_TEXT[part]} used with {_KIND_TEXT[kind][2]}", 1,
            adverse_above=_DISTINCT_USUAL.get((kind, part), 1.0)))
    return defs


#: a flag's reason is true when the flag is set (1); the threshold sits between 0 and 1
SET = 0.5
#: documented references of the credit reasons (adverse_below / adverse_above)
LOW_BUREAU_SCORE = 670.0  # the fair/good boundary of the 300-850 scale
MANY_INQUIRIES_6M = 2.0  # more than two hard searches in six months
HIGH_UTILISATION = 0.5  # revolving balance above half the limit
SHORT_FILE_MONTHS = 24.0  # oldest tradeline younger than two years
SEVERAL_NEW_ACCOUNTS = 1.0  # "several": two or more opened in six months
HIGH_DTI = 0.40  # the policy's affordability ceiling (decisions/policy/default.yaml max_dti)
HIGH_PTI = 0.10  # new payment above a tenth of monthly income
HIGH_AMOUNT_TO_INCOME = 0.25  # more than a quarter of annual income
LOW_LOG_INCOME = 9.903538  # log1p(20,000): annual income below 20,000
SHORT_EMPLOYMENT_MONTHS = 12.0
LONG_TERM_MONTHS = 36.0
INCOME_ABOVE_ESTIMATE = 1.2  # declared income more than 20% above the account estimate
NEW_DEVICE_DAYS = 1.0
#: outside what a person filling the form by hand does (the "unusual way" texts)
FAST_FORM_SECONDS = 20.0  # rule R-011's "faster than a person can type"
FEW_KEYSTROKES = 5.0
FAST_KEYS_MS = 50.0
REGULAR_KEYS_STD_MS = 5.0  # scripted input is regular
MANY_CORRECTIONS = 5.0
FEW_PAGES, MANY_PAGES = 3.0, 20.0


def _graph() -> list[FeatureDef]:
    return [
        FeatureDef("graph_linked_ids_30d", "count", 0.0,
                   "Other identities that shared this application's device, phone or IP "
                   "within 30 days.", "graph", "F-GRA-LINKED-IDS",
                   "Application details are shared with other applicants", 1,
                   adverse_above=0.0),
        FeatureDef("graph_linked_apps_30d", "count", 0.0,
                   "Other applications sharing this application's device, phone or IP "
                   "within 30 days.", "graph", "F-GRA-LINKED-APPS",
                   "Application details are shared with other applications", 1,
                   adverse_above=0.0),
        FeatureDef("graph_fraud_linked", "flag", 0.0,
                   "1 if any of this application's identifiers was used by an application "
                   "confirmed as fraud at or before this event time.", "graph",
                   "F-GRA-FRAUD-LINK",
                   "Application details are linked to confirmed fraud", 1, adverse_above=SET),
        FeatureDef("graph_fraud_linked_identifiers", "count", 0.0,
                   "How many of this application's six identifiers are linked to confirmed "
                   "fraud.", "graph", "F-GRA-FRAUD-LINK-N",
                   "Application details are linked to confirmed fraud", 1, adverse_above=0.0),
    ]


def _graph_links() -> list[FeatureDef]:
    """The identity graph over seven identifiers (``features/graph.py``)."""
    G = "graph"
    shared = "Application details are shared with other applicants"
    nodes = "device, phone, email, IP, address, employer or bank account"
    defs = [FeatureDef(
        f"graph_ids_linked_{w}", "count", 0.0,
        f"Other identities that used this application's {nodes} within the last "
        f"{_WINDOW_TEXT.get(w, '30 days')} (identifiers used by more than {HUB} applications in "
        "30 days, such as carrier IPs or large employers, link nothing).",
        G, f"F-GRA-IDS-{w.upper()}", shared, 1, adverse_above=0.0)
        for w in ("24h", "7d", "30d")]
    return [*defs,
        FeatureDef("graph_ids_linked_address_30d", "count", 0.0,
                   "Other identities that gave this home address (same premise and postcode, "
                   "any flat) within 30 days.", G, "F-GRA-IDS-ADDR",
                   "Home address is used by several other recent applicants", 1,
                   adverse_above=2.0),
        FeatureDef("graph_ids_linked_employer_30d", "count", 0.0,
                   "Other identities that named this employer within 30 days (large employers "
                   "link nothing).", G, "F-GRA-IDS-EMPLOYER",
                   "Employer details match other recent applications", 0, adverse_above=0.0),
        FeatureDef("graph_ids_linked_bank_30d", "count", 0.0,
                   "Other identities that gave this bank account within 30 days.", G,
                   "F-GRA-IDS-BANK", "Bank account is used by other applicants", 1,
                   adverse_above=0.0),
        FeatureDef("graph_two_hop_ids_30d", "count", 0.0,
                   "Identities two links away within 30 days (one sharing an identifier with an "
                   "identity that shares one with this applicant); exact up to "
                   f"{COMPONENT_CAP} identities in the group.",
                   G, "F-GRA-TWO-HOP",
                   "Application details are indirectly linked to other applicants", 1,
                   adverse_above=0.0),
        FeatureDef("graph_component_ids_30d", "count", 1.0,
                   "Identities in this applicant's connected group within 30 days, itself "
                   f"included (at most {COMPONENT_CAP}).", G, "F-GRA-COMPONENT",
                   "Application details are linked to a group of applicants", 1,
                   adverse_above=2.0),
        FeatureDef("graph_component_fraud_share_30d", "float", 0.0,
                   "Share of the connected group's identities already confirmed as fraud at "
                   "this event time.", G, "F-GRA-COMPONENT-FRAUD",
                   "Application details are linked to confirmed fraud", 1, adverse_above=0.0),
        FeatureDef("graph_component_declined_share_30d", "float", 0.0,
                   "Share of the connected group's identities with an application declined in "
                   "the 30 days strictly before this event time (declines the worker published "
                   "before this application was scored; offline, the DECLINE decisions of the "
                   "replayed log: none in a simulator history, which approves all).", G,
                   "F-GRA-COMPONENT-DECLINED",
                   "Application details are linked to recently declined applications", 1,
                   adverse_above=0.0),
        FeatureDef("graph_same_person_at_address_30d", "count", 0.0,
                   "Other identities with this surname and date of birth at this address "
                   "within 30 days (a near match, not a link).", G, "F-GRA-SAME-PERSON",
                   "Another identity with the same name and date of birth uses this address",
                   1, adverse_above=0.0),
        FeatureDef("graph_email_digit_variants_30d", "count", 0.0,
                   "Other email addresses within 30 days that differ from this one only in "
                   "their digits (a near match).", G, "F-GRA-EMAIL-VARIANT",
                   "Email address closely resembles other recent applications' addresses", 1,
                   adverse_above=0.0),
    ]


def _session() -> list[FeatureDef]:
    S = "session"
    unusual = "Application form completed in an unusual way"
    beh, dev = (NO_BEHAVIOUR,), (NO_DEVICE,)
    return [
        FeatureDef("sess_behaviour_missing", "flag", 1.0,
                   "1 if no behaviour events of this session were received before scoring.",
                   S, NO_BEHAVIOUR.code, NO_BEHAVIOUR.text, adverse_above=SET),
        FeatureDef("sess_device_missing", "flag", 1.0,
                   "1 if no device events of this session were received before scoring.",
                   S, NO_DEVICE.code, NO_DEVICE.text, adverse_above=SET),
        FeatureDef("sess_form_fill_seconds", "float", None,
                   "Seconds from the first to the last behaviour event of the session.",
                   S, "F-SES-FILL-TIME", unusual, adverse_below=FAST_FORM_SECONDS,
                   if_missing=beh),
        FeatureDef("sess_keystrokes", "count", None, "Keystroke events in the session.",
                   S, "F-SES-KEYS", unusual, adverse_below=FEW_KEYSTROKES, if_missing=beh),
        FeatureDef("sess_keystroke_interval_mean_ms", "float", None,
                   "Mean milliseconds between keystrokes.", S, "F-SES-KEY-MEAN",
                   unusual, adverse_below=FAST_KEYS_MS, if_missing=beh),
        FeatureDef("sess_keystroke_interval_std_ms", "float", None,
                   "Standard deviation of milliseconds between keystrokes (scripted input is "
                   "regular).", S, "F-SES-KEY-VAR", unusual,
                   adverse_below=REGULAR_KEYS_STD_MS, if_missing=beh),
        FeatureDef("sess_paste_count", "count", None, "Paste events in the session.",
                   S, "F-SES-PASTE", "Application details were pasted rather than typed", 1,
                   adverse_above=0.0, if_missing=beh),
        FeatureDef("sess_corrections", "count", None, "Correction events in the session.",
                   S, "F-SES-CORRECTIONS", unusual, adverse_above=MANY_CORRECTIONS,
                   if_missing=beh),
        FeatureDef("sess_pages", "count", None, "Page views in the session.",
                   S, "F-SES-PAGES", unusual, adverse_below=FEW_PAGES,
                   adverse_above=MANY_PAGES, if_missing=beh),
        FeatureDef("sess_emulator", "flag", None, "1 if the device SDK detected an emulator.",
                   S, "F-SES-EMULATOR", "Application made from an emulated device", 1,
                   adverse_above=SET, if_missing=dev),
        FeatureDef("sess_rooted", "flag", None,
                   "1 if the device SDK detected a rooted or jail-broken device.",
                   S, "F-SES-ROOTED", "Application made from a modified device", 1,
                   adverse_above=SET, if_missing=dev),
        FeatureDef("sess_ip_country_mismatch", "flag", None,
                   "1 if the IP geolocates to a country other than the home address's.",
                   S, "F-SES-IP-GEO", "Location of the connection does not match the address", 1,
                   adverse_above=SET, if_missing=dev),
        FeatureDef("sess_geo_country_mismatch", "flag", None,
                   "1 if the device location is in a country other than the home address's.",
                   S, "F-SES-DEV-GEO", "Location of the device does not match the address", 1,
                   adverse_above=SET, if_missing=dev),
        FeatureDef("sess_timezone_mismatch", "flag", None,
                   "1 if the device timezone does not belong to the home address's country.",
                   S, "F-SES-TZ", "Device timezone does not match the address", 1,
                   adverse_above=SET, if_missing=dev),
        FeatureDef("sess_ip_mismatch", "flag", None,
                   "1 if the device events came from an IP other than the application's.",
                   S, "F-SES-IP-CHANGE", "Connection changed during the application", 1,
                   adverse_above=SET, if_missing=dev),
        FeatureDef("sess_device_mismatch", "flag", None,
                   "1 if the device events name a device other than the application's.",
                   S, "F-SES-DEV-CHANGE", "Device changed during the application", 1,
                   adverse_above=SET, if_missing=dev),
        FeatureDef("device_first_seen_days", "float", 0.0,
                   "Days since the application's device was first seen (applications or device "
                   "events), 0 if first seen now; kept up to the state TTL.",
                   S, "F-SES-NEW-DEVICE", "Application made from a newly seen device", -1,
                   adverse_below=NEW_DEVICE_DAYS),
    ]


def _applicant() -> list[FeatureDef]:
    A, B, P = "applicant", "bureau", "product"
    file, account = (NO_FILE,), (NO_FILE, NO_ACCOUNT_DATA)
    emp = "Employment status"
    return [
        FeatureDef("app_dti", "float", None,
                   "Declared monthly debt payments x 12 / declared annual income.",
                   A, "F-APP-DTI", "Debt obligations are high relative to income", 1,
                   adverse_above=HIGH_DTI),
        FeatureDef("app_pti", "float", None,
                   "Estimated monthly payment of the requested credit / monthly income (12% "
                   "APR annuity; 3% of the limit for cards).",
                   A, "F-APP-PTI", "Requested payment is high relative to income", 1,
                   adverse_above=HIGH_PTI),
        FeatureDef("app_amount_to_income", "float", None,
                   "Requested amount / declared annual income.",
                   A, "F-APP-AMOUNT", "Amount requested is high relative to income", 1,
                   adverse_above=HIGH_AMOUNT_TO_INCOME),
        FeatureDef("app_log_income", "float", None, "Natural log of (1 + annual income).",
                   A, "F-APP-INCOME", "Income is insufficient for the amount requested", -1,
                   adverse_below=LOW_LOG_INCOME),
        FeatureDef("app_term_months", "float", 0.0, "Requested term in months (0 = revolving).",
                   A, "F-APP-TERM", "Requested term", adverse_above=LONG_TERM_MONTHS),
        FeatureDef("app_employment_months", "float", 0.0,
                   "Months with the current employer or in the current status.",
                   A, "F-APP-EMP-TIME", "Length of employment is short", -1,
                   adverse_below=SHORT_EMPLOYMENT_MONTHS),
        FeatureDef("app_emp_unemployed", "flag", 0.0, "1 if unemployed.",
                   A, "F-APP-EMP-STATUS", emp, adverse_above=SET),
        FeatureDef("app_emp_self_employed", "flag", 0.0, "1 if self-employed.",
                   A, "F-APP-EMP-STATUS", emp, adverse_above=SET),
        FeatureDef("app_emp_student", "flag", 0.0, "1 if a student.",
                   A, "F-APP-EMP-STATUS", emp, adverse_above=SET),
        FeatureDef("app_housing_rent", "flag", 0.0, "1 if renting.",
                   A, "F-APP-HOUSING", "Housing status", adverse_above=SET),
        FeatureDef("app_known_customer", "flag", 0.0, "1 if the applicant is an existing customer.",
                   A, "F-APP-CUSTOMER", "No existing relationship with the lender",
                   adverse_below=SET),
        FeatureDef("bureau_missing", "flag", 0.0, "1 if the bureau returned no file.",
                   B, NO_FILE.code, NO_FILE.text, adverse_above=SET),
        FeatureDef("bureau_score", "float", None, "Bureau score (300-850).",
                   B, "F-BUR-SCORE", "Credit bureau score is too low", -1,
                   adverse_below=LOW_BUREAU_SCORE, if_missing=file),
        FeatureDef("bureau_inquiries_6m", "count", None, "Hard inquiries in the last 6 months.",
                   B, "F-BUR-INQ", "Too many recent credit inquiries", 1,
                   adverse_above=MANY_INQUIRIES_6M, if_missing=file),
        FeatureDef("bureau_delinquencies_24m", "count", None,
                   "Accounts 30+ days past due in the last 24 months.",
                   B, "F-BUR-DELQ", "Recent delinquency on credit accounts", 1,
                   adverse_above=0.0, if_missing=file),
        FeatureDef("bureau_utilisation", "float", None, "Revolving balance / revolving limit.",
                   B, "F-BUR-UTIL", "Revolving credit utilisation is too high", 1,
                   adverse_above=HIGH_UTILISATION, if_missing=file),
        FeatureDef("bureau_file_age_months", "float", None, "Age of the oldest tradeline.",
                   B, "F-BUR-AGE", "Length of credit history is too short", -1,
                   adverse_below=SHORT_FILE_MONTHS, if_missing=file),
        # "Number of open credit accounts" claims no side: it is never given as a reason
        FeatureDef("bureau_open_accounts", "count", None, "Open accounts on the bureau file.",
                   B, "F-BUR-OPEN", "Number of open credit accounts", if_missing=file),
        FeatureDef("bureau_thin_file", "flag", None, "1 if fewer than 3 tradelines.",
                   B, "F-BUR-THIN", "Limited credit history", 1, adverse_above=SET,
                   if_missing=file),
        FeatureDef("bureau_new_accounts_6m", "count", None,
                   "Credit accounts opened in the last 6 months.",
                   B, "F-BUR-NEW", "Several credit accounts opened recently", 1,
                   adverse_above=SEVERAL_NEW_ACCOUNTS, if_missing=file),
        FeatureDef("bureau_log_income_estimate", "float", None,
                   "Natural log of (1 + the bureau's income estimate from current-account "
                   "turnover); missing when no account data is shared.",
                   B, "F-BUR-INCOME", "Income seen in current-account data is low", -1,
                   adverse_below=LOW_LOG_INCOME, if_missing=account),
        FeatureDef("app_income_to_estimate", "float", None,
                   "Declared annual income / the bureau's income estimate.",
                   A, "F-APP-INCOME-CHECK",
                   "Declared income is above the income seen in current-account data", 1,
                   adverse_above=INCOME_ABOVE_ESTIMATE, if_missing=account),
        FeatureDef("product_credit_card", "flag", 0.0, "1 for a credit card application.",
                   P, "F-PRD", "Product applied for", adverse_above=SET),
        FeatureDef("product_personal_loan", "flag", 0.0, "1 for a personal loan application.",
                   P, "F-PRD", "Product applied for", adverse_above=SET),
        FeatureDef("product_bnpl", "flag", 0.0, "1 for a buy-now-pay-later application.",
                   P, "F-PRD", "Product applied for", adverse_above=SET),
        FeatureDef("channel_app", "flag", 0.0, "1 if submitted in the mobile app.",
                   P, "F-CHN", "Application channel", adverse_above=SET),
        FeatureDef("channel_partner", "flag", 0.0, "1 if submitted through a partner.",
                   P, "F-CHN", "Application channel", adverse_above=SET),
    ]


#: quote requests (pre-qualification) per identifier kind: windows of their own velocity
QUOTE_WINDOWS: dict[str, tuple[str, ...]] = {
    "id": ("1h", "24h", "7d"),
    "device": ("10m", "1h", "24h"),
    "ip": ("10m", "1h", "24h"),
    "phone": ("24h",),
    "email": ("24h",),
}
#: shopping around is normal: the text is true above five quote requests in the window
MANY_QUOTES = 5.0


def _quote_velocity() -> list[FeatureDef]:
    """Quote requests of the same identifier: their own velocity. Quotes never count in the
    application velocity above (a soft search is not an application)."""
    defs = []
    for kind, windows in QUOTE_WINDOWS.items():
        code, noun, same = _KIND_TEXT[kind]
        for w in windows:
            defs.append(FeatureDef(
                f"qvel_{kind}_quotes_{w}", "count", 0.0,
                f"Quote requests (this one included) with the same {noun} whose event time is "
                f"within the last {_WINDOW_TEXT[w]} of this request's event time.",
                "quote_velocity", f"F-QVEL-{code}-{w.upper()}",
                f"Too many recent quote requests from {same}", 1,
                adverse_above=MANY_QUOTES))
    return defs


FEATURE_SPEC = FeatureSpec(_velocity() + _distinct() + _graph() + _graph_links() + _session()
                           + _applicant())

#: the quote-velocity features: a spec of their own, seen by the quote policy; the
#: application models' vector (FEATURE_SPEC) does not change with quotes
QUOTE_SPEC = FeatureSpec(_quote_velocity())
