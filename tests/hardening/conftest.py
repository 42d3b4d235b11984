"""The end-to-end bench fixtures, shared with tests/e2e (one bench, one set of rules)."""

from tests.e2e.conftest import bench, make_bench

__all__ = ["bench", "make_bench"]
