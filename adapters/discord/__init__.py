"""The Discord adapter: the whole moderation loop on a real discord.py client.

- ``translate``: discord.py messages, edits, deletions and joins -> core events (pure functions).
- ``execute``: core decisions -> Discord REST calls; errors become an ``ActionResult``, a missing
  permission becomes a moderator alert naming it.
- ``longform``: opening a long-form space (a forum post), with consent first if the policy asks.
- ``views`` and ``buttons``: persistent buttons (the decision key is in the custom id) and what
  clicking them does. ``commands``: the ``/longform`` slash commands.
- ``app``: the client and its wiring (``make_adapter``). ``backfill``: replaying channel history.

Only this package imports discord.py.
"""
