"""Kafka connections, clients, topics, the partitioner, replay and the embedded local broker."""
