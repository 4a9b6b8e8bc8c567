"""Replication between nodes: outbox, apply, feed, releases, transport and jobs.

Redis and RQ only carry work; each node's SQL database is the record. Every
step here either runs inside the caller's transaction or opens its own,
and states which.
"""
