"""Shared names, labels and pure helpers for every CPS1 component (stdlib and PyYAML only)."""

__version__ = "0.1.0"
