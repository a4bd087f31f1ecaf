"""Benchmarks: ``make bench`` runs them; ``make test`` never does."""
