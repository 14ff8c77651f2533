"""binaudit: inventory reconciliation on warehouse bin photos."""

__version__ = "0.1.0"
