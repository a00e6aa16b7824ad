"""Every ``loanrisk`` command path and the smoke test that runs it for real.

Shared by ``tests/integration/test_cli_smoke.py`` (which runs each path and checks it
ran them all) and ``tests/unit/test_cli_tree.py`` (which fails when the CLI has a
command this table lacks), so a new command without a smoke run fails the suite.
"""

from __future__ import annotations

SMOKE_RUNS: dict[str, str] = {
    # root options
    "--version": "test_root_options",
    "--show-completion": "test_root_options",
    # services, on the session's Kafka and Redis and a fresh embedded store
    "services up": "test_services",
    "services status": "test_services",
    "services down": "test_services_down_leaves_remote_services_alone",
    # data and models
    "simulate config": "test_simulate_features_and_models",
    "simulate history": "test_simulate_features_and_models",
    "features spec": "test_simulate_features_and_models",
    "features build": "test_simulate_features_and_models",
    "simulate statements": "test_servicing_lifecycle",
    "servicing evaluate": "test_servicing_lifecycle",
    "servicing worker": "test_servicing_lifecycle",
    "servicing publish": "test_servicing_lifecycle",
    "train": "test_simulate_features_and_models",
    "evaluate": "test_simulate_features_and_models",
    "models list": "test_simulate_features_and_models",
    "models show": "test_simulate_features_and_models",
    "models promote": "test_simulate_features_and_models",
    "reject-inference": "test_simulate_features_and_models",
    # decisions: rules, policy, lists
    "rules validate": "test_rules_and_policy",
    "rules backtest": "test_rules_and_policy",
    "rules release": "test_rules_and_policy",
    "policy show": "test_rules_and_policy",
    "policy release": "test_rules_and_policy",
    "policy optimise": "test_rules_and_policy",
    "policy compare": "test_rules_and_policy",
    "policy fair-levers": "test_rules_and_policy",
    "lists add": "test_lists",
    "lists show": "test_lists",
    "lists remove": "test_lists",
    "lists import": "test_lists",
    # the running pipeline and what it logged
    "sink": "test_pipeline",
    "worker": "test_pipeline",
    "simulate live": "test_pipeline",
    "monitor": "test_pipeline",
    "sql": "test_pipeline",
    "explain": "test_pipeline",
    "drift": "test_pipeline",
    "shadow report": "test_pipeline",
    "demo": "test_demo",
    # the review console
    "console serve": "test_console",
    "console user add": "test_console",
    "console user list": "test_console",
    "console user remove": "test_console",
}
