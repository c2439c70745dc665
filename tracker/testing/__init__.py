"""Reference pipeline, traffic and load generators, Kafka test clusters: importable by tests, bench and the demo, never by production code."""
