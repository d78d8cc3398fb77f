"""Deterministic workflow code: temporalio, the standard library and ``models`` only."""
