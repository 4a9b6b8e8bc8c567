"""Fault tests: kill, cut, flush and reorder the sync streams, then check them."""
