"""KRaft cluster ids: valid for the storage tool, never mistaken for an option."""

from __future__ import annotations

import base64

from infra.kafka import new_cluster_id


def test_cluster_ids_are_16_byte_uuids_that_never_start_with_a_dash() -> None:
    ids = [new_cluster_id() for _ in range(3000)]  # ~47 would start with '-' by chance
    assert not any(i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
    assert len(set(ids)) == len(ids)
