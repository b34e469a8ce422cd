"""Benchmarks: figures printed for humans, never asserted in tests."""
