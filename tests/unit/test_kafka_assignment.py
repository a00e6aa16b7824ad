"""What a /metrics scrape reads of a consumer's partitions: the rebalance callbacks' view."""

from __future__ import annotations

from confluent_kafka import TopicPartition

from streams.kafka import Assignment


def test_assignment_follows_the_rebalance_callbacks() -> None:
    owned = Assignment()
    assert len(owned) == 0
    owned.assigned([TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)])
    owned.assigned([TopicPartition("a", 1), TopicPartition("c", 2)])  # incremental, repeated
    assert owned.partitions == (("a", 0), ("a", 1), ("b", 0), ("c", 2))
    owned.revoked([TopicPartition("a", 1), TopicPartition("z", 9)])  # z was never owned
    assert owned.partitions == (("a", 0), ("b", 0), ("c", 2))
    owned.revoked([TopicPartition(t, p) for t, p in owned.partitions])
    assert len(owned) == 0
