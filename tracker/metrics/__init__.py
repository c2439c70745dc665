"""What the tracker exports: the metric catalogue, the Prometheus exposition and the overview page's numbers."""
