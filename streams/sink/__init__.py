"""The ClickHouse sink (Kafka -> batched inserts) and the query server through which other
processes reach the embedded store it owns."""
