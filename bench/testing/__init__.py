"""Fixtures made in code, shared by the tests and ``drumbench perf``: nothing here is a result."""
