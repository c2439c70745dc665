"""The Faust wiring: the only package that imports Faust."""
