"""Declarative rules, evaluated safely with CEL, versioned and hot-reloadable.

A rules file is YAML::

    version: "2025.06.1"
    rules:
      - id: R-001
        description: Many applications from one device in an hour
        category: fraud            # fraud | credit; an ALLOW-list hit skips fraud rules
        condition: device_apps_1h >= 3 && pd > 0.02
        action: decline            # decline | review | flag
        reason_code: R-001
        reason_text: Too many recent applications from this device
        enabled: true
        products: [CREDIT_CARD]    # optional; default all products
        missing: skip              # skip (default) | evaluate

Conditions are CEL (Common Expression Language), compiled once at load; never
Python ``eval``. Variables are the feature names, the scores (``pd``,
``fraud_probability``, ``anomaly_score``, ``scorecard_points``) and the
non-identifying application fields (``APPLICATION_VARS``). All numbers are
doubles: compare with any literal (``x >= 3``) but write arithmetic with
doubles (``annual_income / 12.0``).

Missing values: a feature or score that is absent, None or NaN is ``null``.
With ``missing: skip`` (the default) a rule that references a missing value
does not fire -- so ``!(x > 3)`` never fires on a missing ``x``. With
``missing: evaluate`` the condition sees ``null`` and must handle it
(``x == null || x > 3``); a condition that still fails at run time does not
fire and is counted in ``RuleSet.errors``.

Load-time validation (``RuleSet.from_yaml``): YAML shape, unique ids, CEL
syntax, unknown variable names (when the known feature names are given), and
a trial evaluation that must yield true/false. Any problem raises
``RulesError`` naming the rule; ``RuleStore`` then keeps the previous set.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cel
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from decisions.errors import RulesError

SCORE_VARS: tuple[str, ...] = ("pd", "fraud_probability", "anomaly_score", "scorecard_points")
# Application fields rules may use, with a sample value of their CEL type (numbers -> double).
# Identifiers (names, national id, email, phone, address, ip, device id) are deliberately absent.
APPLICATION_VARS: dict[str, Any] = {
    "product": "", "channel": "", "employment_status": "", "housing_status": "",
    "employment_months": 1.0, "annual_income": 1.0, "monthly_debt_payments": 1.0,
    "requested_amount": 1.0, "requested_term_months": 1.0, "bureau_score": 1.0,
    "has_customer_id": True, "bureau_inquiries_6m": 1.0, "bureau_delinquencies_24m": 1.0,
    "bureau_utilisation": 1.0, "bureau_file_age_months": 1.0, "bureau_open_accounts": 1.0,
    "bureau_thin_file": True, "bureau_new_accounts_6m": 1.0, "bureau_income_estimate": 1.0,
}
_BUREAU = ("inquiries_6m", "delinquencies_24m", "utilisation", "file_age_months", "open_accounts",
           "thin_file", "new_accounts_6m", "income_estimate")
ACTIONS = ("decline", "review", "flag")
_SEVERITY = {"decline": 0, "review": 1, "flag": 2}
DEFAULT_RULES_PATH = Path(__file__).parent / "rules" / "default.yaml"


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    description: str = ""
    category: Literal["fraud", "credit"]
    condition: str = Field(min_length=1)
    action: Literal["decline", "review", "flag"]
    reason_code: str = Field(min_length=1)
    reason_text: str = Field(min_length=1)
    enabled: bool = True
    products: tuple[Literal["CREDIT_CARD", "PERSONAL_LOAN", "BNPL"], ...] | None = None
    missing: Literal["skip", "evaluate"] = "skip"


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule_id: str
    action: str
    category: str
    reason_code: str
    reason_text: str


@dataclass(frozen=True, slots=True)
class Rule:
    spec: _RuleSpec
    program: Any  # cel.Program
    variables: tuple[str, ...]
    hit: RuleHit

    @property
    def id(self) -> str:
        return self.spec.id


class RuleSet:
    """A validated, compiled, immutable set of rules with a version id."""

    def __init__(self, declared_version: str, digest: str, rules: list[Rule]) -> None:
        self.declared_version = declared_version
        self.version = f"{declared_version}+{digest[:12]}"
        self.rules = rules
        self.enabled = [r for r in rules if r.spec.enabled]
        self.variables: tuple[str, ...] = tuple(
            sorted({v for r in self.enabled for v in r.variables})
        )
        self.all_variables: tuple[str, ...] = tuple(
            sorted({v for r in rules for v in r.variables})
        )
        self.errors: Counter[str] = Counter()
        # flat evaluation plans: attribute lookups are a measurable share of 50 rules
        self._plan = [_plan(r) for r in self.enabled]
        self._plan_all = [_plan(r) for r in rules]  # run-time failures per rule id (monitoring)

    def __len__(self) -> int:
        return len(self.rules)

    @classmethod
    def empty(cls) -> RuleSet:
        return cls("empty", hashlib.sha256(b"").hexdigest(), [])

    @classmethod
    def from_yaml(
        cls, text_or_path: str | Path, known_names: Collection[str] | None = None
    ) -> RuleSet:
        """Parse, validate and compile a rules file (a path or YAML text).

        ``known_names``: the feature names in use (``FEATURE_SPEC.names``); when
        given, a condition naming anything else is rejected (catches typos).
        """
        text = _read(text_or_path)
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RulesError(f"rules file is not valid YAML: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
            raise RulesError("rules file must be a mapping with 'version' and a 'rules' list")
        version = doc.get("version")
        if not isinstance(version, str | int | float) or not str(version).strip():
            raise RulesError("rules file needs a 'version' (e.g. version: \"2025.06.1\")")
        extra = set(doc) - {"version", "rules", "description"}
        if extra:
            raise RulesError(f"unknown top-level keys in rules file: {sorted(extra)}")
        allowed = None if known_names is None else (
            set(known_names) | set(SCORE_VARS) | set(APPLICATION_VARS)
        )
        rules: list[Rule] = []
        seen: set[str] = set()
        for i, raw in enumerate(doc["rules"]):
            rule = _compile_rule(i, raw, allowed, set(known_names or ()))
            if rule.id in seen:
                raise RulesError(f"rule {rule.id}: duplicate id; rule ids must be unique")
            seen.add(rule.id)
            rules.append(rule)
        digest = hashlib.sha256(text.encode()).hexdigest()
        return cls(str(version).strip(), digest, rules)

    def context_for(
        self,
        application: Mapping[str, Any],
        features: Mapping[str, float | None],
        scores: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The variables this rule set needs; later sources win (app < features < scores).

        NaN becomes None (null); every needed name is present.
        """
        ctx: dict[str, Any] = {}
        for name in self.all_variables:
            if name in scores:
                v = scores[name]
            elif name in features:
                v = features[name]
            else:
                v = application_value(application, name)
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            ctx[name] = v
        return ctx

    def evaluate(
        self,
        context: Mapping[str, Any],
        skip_categories: Collection[str] = (),
        include_disabled: bool = False,
    ) -> list[RuleHit]:
        """Rules whose condition is true, most severe first (decline, review, flag).

        ``context`` comes from ``context_for`` (or any dict holding the
        variables; missing names count as null). ``include_disabled`` also
        evaluates disabled rules (backtests of a rule before enabling it).
        """
        plan = self._plan_all if include_disabled else self._plan
        if not plan:
            return []
        get = context.get
        names = self.all_variables if include_disabled else self.variables
        values = {v: get(v) for v in names}
        missing = {v for v, x in values.items() if x is None}
        cel_ctx = cel.Context(values)
        product = get("product")
        hits: list[RuleHit] = []
        for program, variables, hit, category, products, skip_missing in plan:
            if category in skip_categories:
                continue
            if products is not None and product not in products:
                continue
            if skip_missing and missing and not missing.isdisjoint(variables):
                continue
            try:
                fired = program.execute(cel_ctx)
            except Exception:  # a CEL run-time error (null, overload): the rule does not fire
                self.errors[hit.rule_id] += 1
                continue
            if fired is True:
                hits.append(hit)
        hits.sort(key=lambda h: _SEVERITY[h.action])
        return hits


def _plan(r: Rule) -> tuple[Any, frozenset[str], RuleHit, str, frozenset[str] | None, bool]:
    products = frozenset(r.spec.products) if r.spec.products is not None else None
    return (r.program, frozenset(r.variables), r.hit, r.spec.category, products,
            r.spec.missing == "skip")


def application_value(application: Mapping[str, Any], name: str) -> Any:
    """An application variable as rules see it (flattened bureau fields, derived flags)."""
    if name == "has_customer_id":
        return application.get("customer_id") is not None
    if name.startswith("bureau_") and name[7:] in _BUREAU:
        bureau = application.get("bureau")
        return None if not bureau else bureau.get(name[7:])
    v = application.get(name)
    if isinstance(v, str) or v is None or isinstance(v, bool):
        return v
    return float(v)


def _compile_rule(index: int, raw: Any, allowed: set[str] | None, features: set[str]) -> Rule:
    rid = raw.get("id", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
    try:
        spec = _RuleSpec.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: {e['msg']}" for e in exc.errors()
        )
        raise RulesError(f"rule {rid}: {problems}") from exc
    try:
        program = cel.compile(spec.condition)
    except Exception as exc:
        first = str(exc).splitlines()[0]
        raise RulesError(f"rule {rid}: condition is not valid CEL: {first}") from exc
    names = tuple(program.variables())
    if allowed is not None:
        for name in names:
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise RulesError(f"rule {rid}: unknown name '{name}' in condition{hint}")
    # features (doubles) shadow application fields of the same name, as in context_for
    sample = {n: 1.0 if n in features else APPLICATION_VARS.get(n, 1.0) for n in names}
    try:
        result = program.execute(cel.Context(sample))
    except Exception as exc:
        raise RulesError(
            f"rule {rid}: condition fails on sample values: {str(exc).splitlines()[0]} "
            "(numbers are doubles: write 12.0, not 12, in arithmetic)"
        ) from exc
    if not isinstance(result, bool):
        raise RulesError(
            f"rule {rid}: condition must be true/false, got {type(result).__name__} ({result!r})"
        )
    hit = RuleHit(spec.id, spec.action, spec.category, spec.reason_code, spec.reason_text)
    return Rule(spec, program, names, hit)


def _read(text_or_path: str | Path) -> str:
    if isinstance(text_or_path, Path):
        try:
            return text_or_path.read_text()
        except OSError as exc:
            raise RulesError(f"cannot read rules file {text_or_path}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise RulesError(f"{text_or_path} is not a text file (binary data at byte "
                             f"{exc.start}); a rules file is YAML text") from exc
    if "\n" not in text_or_path and text_or_path.endswith((".yaml", ".yml")):
        return _read(Path(text_or_path))
    return text_or_path


class RuleStore:
    """Holds the active RuleSet; swaps in new versions, keeps the old one on errors.

    Reads of ``current`` are a single attribute load, so a decision in flight
    sees one whole rule set even while a reload happens.
    """

    def __init__(
        self, initial: RuleSet | None = None, known_names: Collection[str] | None = None
    ) -> None:
        self.current: RuleSet = initial or RuleSet.empty()
        self.known_names = known_names
        self.last_error: str | None = None
        self._stamp: tuple[int, int] | None = None
        self._digest: str | None = None

    @classmethod
    def from_path(cls, path: str | Path, known_names: Collection[str] | None = None) -> RuleStore:
        """Load the first version; an invalid file raises (there is nothing to keep)."""
        store = cls(known_names=known_names)
        store.reload_if_changed(path, raise_errors=True)
        return store

    def load_text(self, text: str) -> RuleSet:
        """Validate and activate ``text``; on RulesError the previous set stays active."""
        try:
            new = RuleSet.from_yaml(text, self.known_names)
        except RulesError as exc:
            self.last_error = str(exc)
            raise
        self.current = new
        self.last_error = None
        return new

    def reload_if_changed(self, path: str | Path, raise_errors: bool = False) -> bool:
        """Re-read ``path`` if its mtime/size changed and its content differs.

        Returns True when a new version became active. Errors are kept in
        ``last_error`` (and raised if ``raise_errors``); the old set stays.
        """
        p = Path(path)
        try:
            st = os.stat(p)
        except OSError as exc:
            self.last_error = f"cannot read rules file {p}: {exc}"
            if raise_errors:
                raise RulesError(self.last_error) from exc
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:  # the same checks as loading a file: a binary or unreadable one is an error
            text = _read(p)
        except RulesError as exc:
            self.last_error = str(exc)
            if raise_errors:
                raise
            return False
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest == self._digest:
            return False
        try:
            self.load_text(text)
        except RulesError:
            if raise_errors:
                raise
            return False
        self._digest = digest
        return True
