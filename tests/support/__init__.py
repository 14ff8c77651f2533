"""Helpers the tests run or import; no test_*.py here, so nothing in this folder is collected as a test."""
