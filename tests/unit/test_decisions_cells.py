"""Test cells: deterministic assignment by identity, exploration's limits, strategy cells."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from decisions.cells import CONTROL, EXPLORE, NO_CELLS, Cells
from decisions.engine import DecisionEngine
from decisions.errors import PolicyError
from decisions.lists import ListIndex
from decisions.policy import Policy
from decisions.rules import RuleSet, RuleStore
from schemas import codec_for
from tests.decision_cases import APP, FEATS, POLICY_YAML, RULES_YAML, SCORES, VERSIONS, block

CHALLENGER = POLICY_YAML.replace('version: "p1"', 'version: "challenger-1"').replace(
    "pd: {approve_below: 0.05, decline_at: 0.10}", "pd: {approve_below: 0.5, decline_at: 0.6}")


def cells_file(tmp_path: Path, explore: float = 0.0, strategy: float = 0.0,
               salt: str = "s1", max_pd: float = 0.3) -> Path:
    (tmp_path / "challenger.yaml").write_text(CHALLENGER)
    strategies = (f"[{{name: loose, share: {strategy}, policy: challenger.yaml}}]"
                  if strategy else "[]")
    path = tmp_path / "cells.yaml"
    path.write_text(f"""
version: "c1"
salt: "{salt}"
exploration: {{share: {explore}, max_pd: {max_pd},
              max_amount: {{PERSONAL_LOAN: 1500, CREDIT_CARD: 300, BNPL: 100}}}}
strategies: {strategies}
""")
    return path


def hashed(i: int) -> dict[str, str]:
    return {"NATIONAL_ID_HASH": hashlib.sha256(f"id-{i}".encode()).hexdigest()}


def engine_with(cells: Cells, *updates: dict) -> DecisionEngine:
    lists = ListIndex()
    for u in updates:
        lists.apply(u)
    return DecisionEngine(lists, RuleStore(RuleSet.from_yaml(RULES_YAML)),
                          Policy.from_yaml(POLICY_YAML), cells)


def first_in(cells: Cells, cell: str) -> dict[str, str]:
    return next(h for h in map(hashed, range(10_000)) if cells.assign(h) == cell)


def decide(eng: DecisionEngine, ident: dict[str, str], scores: dict | None = None,
           feats: dict | None = None, app: dict | None = None) -> dict:
    return dict(eng.decide({**APP, **(app or {})}, {**FEATS, **(feats or {})},
                           {**SCORES, **(scores or {})}, VERSIONS, hashed=ident))


def test_assignment_shares_match_the_file_and_depend_only_on_identity_and_salt(
        tmp_path: Path) -> None:
    cells = Cells.from_yaml(cells_file(tmp_path, explore=0.1, strategy=0.2))
    drawn = [cells.assign(hashed(i)) for i in range(20_000)]
    share = {c: drawn.count(c) / len(drawn) for c in set(drawn)}
    # binomial sd at n=20,000 is ~0.003: 0.015 is five of them
    assert abs(share[EXPLORE] - 0.1) < 0.015 and abs(share["strategy:loose"] - 0.2) < 0.015
    assert abs(share[CONTROL] - 0.7) < 0.015
    again = Cells.from_yaml(cells_file(tmp_path, explore=0.1, strategy=0.2))
    assert [again.assign(hashed(i)) for i in range(2_000)] == drawn[:2_000]
    resalted = Cells.from_yaml(cells_file(tmp_path, explore=0.1, strategy=0.2, salt="s2"))
    moved = sum(resalted.assign(hashed(i)) != drawn[i] for i in range(2_000))
    assert moved > 300  # a new salt re-draws everyone (about 46% change cell)
    assert cells.assign(None) == CONTROL and cells.assign({}) == CONTROL


def test_the_cell_follows_the_applicant_not_the_application(tmp_path: Path) -> None:
    eng = engine_with(Cells.from_yaml(cells_file(tmp_path, explore=0.2, strategy=0.2)))
    for i in range(50):
        cells = {decide(eng, hashed(i), app={"application_id": f"a-{i}-{k}",
                                             "event_time": APP["event_time"] + k})["cell"]
                 for k in range(3)}
        assert len(cells) == 1


def test_explore_approves_below_the_pd_cutoff_at_a_capped_exposure(tmp_path: Path) -> None:
    cells = Cells.from_yaml(cells_file(tmp_path, explore=0.2))
    eng = engine_with(cells)
    ident = first_in(cells, EXPLORE)
    ctrl = first_in(cells, CONTROL)
    rec = decide(eng, ident, scores={"pd": 0.2})
    assert rec["cell"] == EXPLORE and rec["decision"] == "APPROVE"
    assert rec["offer"]["amount"] == 1500.0 and rec["risk_grade"] == "E"
    assert rec["versions"]["cells"].startswith("c1+")
    assert decide(eng, ctrl, scores={"pd": 0.2})["decision"] == "DECLINE"
    # in the review band too, and an approval anyway keeps its normal offer
    assert decide(eng, ident, scores={"pd": 0.07})["decision"] == "APPROVE"
    assert decide(eng, ident)["offer"]["amount"] == 8000.0


@pytest.mark.parametrize(("case", "scores", "feats", "app"), [
    ("over the cell's PD ceiling", {"pd": 0.35}, {}, {}),
    ("fraud decline", {"pd": 0.2, "fraud_probability": 0.6}, {}, {}),
    ("fraud review", {"pd": 0.2, "fraud_probability": 0.3}, {}, {}),
    ("anomaly review", {"pd": 0.2, "anomaly_score": 0.99}, {}, {}),
    ("credit decline rule", {"pd": 0.2}, {"app_dti": 0.7}, {}),
    ("fraud review rule", {"pd": 0.2}, {"sess_paste_count": 5.0}, {}),
    ("unaffordable", {"pd": 0.2}, {}, {"annual_income": 9000.0}),
    ("cold start (no PD)", {"pd": None}, {}, {"bureau_score": 500}),
])
def test_explore_never_overrides_anything_but_the_pd_cutoff(
        tmp_path: Path, case: str, scores: dict, feats: dict, app: dict) -> None:
    cells = Cells.from_yaml(cells_file(tmp_path, explore=0.2))
    ident = first_in(cells, EXPLORE)
    explored = decide(engine_with(cells), ident, scores, feats, app)
    control = decide(engine_with(NO_CELLS), ident, scores, feats, app)
    assert explored["decision"] != "APPROVE", case
    assert {**explored, "cell": "", "versions": {}} == {**control, "cell": "", "versions": {}}


def test_explore_never_overrides_a_block_list_hit(tmp_path: Path) -> None:
    cells = Cells.from_yaml(cells_file(tmp_path, explore=0.2))
    rec = decide(engine_with(cells, block("DEVICE_ID", "dev-1")), first_in(cells, EXPLORE),
                 scores={"pd": 0.2})
    assert rec["decision"] == "DECLINE" and rec["list_hits"] == ["BLOCK:DEVICE_ID"]


def test_a_strategy_cell_is_decided_by_its_challenger_policy_and_records_it(
        tmp_path: Path) -> None:
    cells = Cells.from_yaml(cells_file(tmp_path, strategy=0.3))
    eng = engine_with(cells)
    ident = first_in(cells, "strategy:loose")
    rec = decide(eng, ident, scores={"pd": 0.2})
    assert rec["cell"] == "strategy:loose" and rec["decision"] == "APPROVE"
    assert rec["versions"]["policy"].startswith("challenger-1+")
    ctrl = decide(eng, first_in(cells, CONTROL), scores={"pd": 0.2})
    assert ctrl["decision"] == "DECLINE" and ctrl["versions"]["policy"].startswith("p1+")


def test_no_cells_puts_everyone_in_control_and_the_cell_survives_the_codec() -> None:
    rec = decide(engine_with(NO_CELLS), hashed(1))
    assert rec["cell"] == CONTROL and "cells" not in rec["versions"]
    codec = codec_for("decision")
    wire = {**rec, "decided_at": 1, "timings_us": {}, "worker": "w"}
    assert codec.decode(codec.encode(wire))["cell"] == CONTROL


def test_decisions_written_before_cells_decode_with_an_empty_cell() -> None:
    """A v2 (age_band, no cell) record decodes with today's codec: cell = ''."""
    import json

    from schemas.codec import SCHEMA_DIR, AvroCodec

    v2 = AvroCodec(json.loads((SCHEMA_DIR / "history" / "decision.2.avsc").read_text()))
    rec = decide(engine_with(NO_CELLS), hashed(1))
    old = {k: v for k, v in rec.items() if k != "cell"}
    blob = v2.encode({**old, "decided_at": 1, "timings_us": {}, "worker": "w"})
    assert codec_for("decision").decode(blob)["cell"] == ""


@pytest.mark.parametrize(("text", "message"), [
    ('version: "c"\nsalt: s\nexploration: {share: 0.1}\n', "max_amount"),
    ('version: "c"\nsalt: s\nexploration: {share: 0.5, max_amount: {BNPL: 1}}\n', "share"),
    ('version: "c"\nsalt: s\nstrategies: [{name: a, share: 0.1, policy: nowhere.yaml}]\n',
     "nowhere.yaml"),
    ('version: "c"\nsalt: s\nsurprise: 1\n', "surprise"),
    ("version: [\n", "not valid YAML"),
])
def test_invalid_cells_files_are_refused_naming_the_problem(
        tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cells.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message):
        Cells.from_yaml(path)


def test_a_strategy_policy_must_decide_every_product(tmp_path: Path) -> None:
    only_loans = POLICY_YAML.split("  CREDIT_CARD:")[0]
    (tmp_path / "p.yaml").write_text(only_loans)
    path = tmp_path / "cells.yaml"
    path.write_text('version: "c"\nsalt: s\nstrategies: [{name: a, share: 0.1, policy: p.yaml}]\n')
    with pytest.raises(PolicyError, match="BNPL, CREDIT_CARD"):
        Cells.from_yaml(path)


def test_the_packaged_cells_file_is_valid_and_explores_nobody() -> None:
    cells = Cells.default()
    assert all(cells.assign(hashed(i)) == CONTROL for i in range(1_000))
