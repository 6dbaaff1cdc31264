"""Test support shared across tiers (e2e, faults) and the benchmarks; no tests in here."""
