"""Longform's pure core: events in, decisions out.

Nothing here reads a clock, touches the network or logs: time comes from events or from
``Engine.tick(now)`` and every decision carries its own reason and evidence.
"""
