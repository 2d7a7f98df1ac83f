"""Longform past one process: ingest, judge and execute roles joined by NATS JetStream."""
