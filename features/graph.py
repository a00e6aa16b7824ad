"""The identity graph over every identifier (``lua/graph.lua``), its arguments and results.

Applications link their identity (national id) to seven identifier nodes: device,
phone, email, IP, address, employer and bank account, each in canonical form and
keyed-hashed. From that graph, as of each application's event time:

* identities linked through this application's identifiers within 24 h, 7 d, 30 d,
  and through the costly ones (address, employer, bank account) apart;
* two-hop identities (an identity sharing a device with one sharing this address)
  and the size of the identity's connected component within 30 d, with how many of
  its identities are confirmed fraud, and how many were declined (a DECLINE recorded by
  ``FeatureEngine.record_declines`` for an application of theirs with event time in the
  30 days strictly before this one: the worker records the declines it publishes, the
  offline replay the DECLINE decisions of its log);
* near matches: other identities with the same surname and date of birth at this
  address, other emails that differ from this one only in digits.

An identifier used by more than ``HUB`` applications in 30 days (a carrier IP, an
office, a large employer) links nothing; the breadth-first search stops at
``COMPONENT_CAP`` identities. Both bound the script's cost and memory; below them
the values are exact (``tests/integration/test_features_graph.py`` checks them against
a brute-force oracle).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from features import canonical
from features.identity import hash_canonical, hash_identifier
from features.windows import DAY_MS, GRAPH_WINDOW_MS, RETENTION_MS

#: link windows, the last one the graph window
LINK_WINDOWS: dict[str, int] = {"24h": DAY_MS, "7d": 7 * DAY_MS, "30d": GRAPH_WINDOW_MS}
#: identifier nodes, in the script's order (after the identity hash)
NODE_FIELDS = ("device", "phone", "email", "ip", "address", "employer", "bank")
COSTLY = ("address", "employer", "bank")
HUB = 20
COMPONENT_CAP = 25

FEATURES = (*(f"graph_ids_linked_{w}" for w in LINK_WINDOWS),
            *(f"graph_ids_linked_{k}_30d" for k in COSTLY),
            "graph_two_hop_ids_30d", "graph_component_ids_30d",
            "graph_component_fraud_share_30d", "graph_same_person_at_address_30d",
            "graph_email_digit_variants_30d", "graph_component_declined_share_30d")
_US, _RS = "\x1f", "\x1e"


def header(prefix: str, lateness_ms: int, key_ttl_ms: int, vector_ttl_ms: int,
           ids_ttl_ms: int) -> str:
    """The script's first argument."""
    parts = [prefix, RETENTION_MS, lateness_ms, key_ttl_ms, vector_ttl_ms, ids_ttl_ms, HUB,
             COMPONENT_CAP,
             len(LINK_WINDOWS), *LINK_WINDOWS.values()]
    return ",".join(map(str, parts))


def _optional(key: bytes, kind: str, value: Any) -> str:
    return "" if value is None or not str(value).strip() else hash_identifier(key, kind, value)


def blob(key: bytes, app: Mapping[str, Any], ids: tuple[str, ...]) -> str:
    """One application's packed fields; ``ids`` are its hashes in ``identity.KINDS`` order."""
    email = canonical.email(app["email"])
    person = canonical.person_key(app["last_name"], app["date_of_birth"])
    nodes = (ids[1], ids[2], ids[3], ids[4], ids[5],
             _optional(key, "employer", app.get("employer")),
             _optional(key, "bank", app.get("bank_account")))
    skeleton = hash_canonical(key, "email_skeleton", canonical.email_skeleton(email))
    return _US.join((app["application_id"], str(int(app["event_time"])), ids[0], *nodes,
                     hash_canonical(key, "person", person), ids[3], skeleton))


def pack(blobs: list[str]) -> str:
    return _RS.join(blobs)


def features(raw: str | bytes) -> dict[str, float]:
    """The spec's graph features from one script result."""
    v = orjson.loads(raw)
    nw = len(LINK_WINDOWS)
    out = {f"graph_ids_linked_{w}": float(v[i]) for i, w in enumerate(LINK_WINDOWS)}
    for i, k in enumerate(COSTLY):
        out[f"graph_ids_linked_{k}_30d"] = float(v[nw + i])
    two_hop, comp, fraud, same, emails = v[nw + 3:nw + 8]
    out["graph_two_hop_ids_30d"] = float(two_hop)
    out["graph_component_ids_30d"] = float(comp)
    out["graph_component_fraud_share_30d"] = fraud / comp if comp else 0.0
    out["graph_same_person_at_address_30d"] = float(same)
    out["graph_email_digit_variants_30d"] = float(emails)
    # a vector stored by the script before it counted declines has none
    declined = v[nw + 8] if len(v) > nw + 8 else 0
    out["graph_component_declined_share_30d"] = declined / comp if comp else 0.0
    return out


def decline_args(prefix: str, lateness_ms: int, key_ttl_ms: int,
                 declines: list[tuple[str, int]]) -> list[Any]:
    """``lua/decline.lua``'s arguments: (application id, its event time) per DECLINE."""
    args: list[Any] = [prefix, RETENTION_MS + lateness_ms, key_ttl_ms]
    for app_id, t in declines:
        args += [app_id, int(t)]
    return args
