"""Headless core: ABID parsing, the SQLite store, import, synthetic bins, ranking, export (no Qt, no torch)."""
