"""``make bench``: throughput, latency, state and scaling of the tracker beside its limits."""
