"""Data-subject access and erasure tooling."""
