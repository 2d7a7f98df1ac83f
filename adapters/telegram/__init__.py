"""The Telegram adapter: the whole moderation loop on a real python-telegram-bot Application.

- ``translate``: PTB messages, edits and joins -> core events (pure functions).
- ``execute``: core decisions -> Bot API calls; errors become an ``ActionResult``. ``slowmode``
  emulates slow mode (the Bot API cannot set it) and ``longform`` opens forum topics.
- ``keyboards`` and ``buttons``: inline buttons (the decision key is in the callback data) and what
  pressing them does. ``commands``: ``/status``, ``/mode``, ``/policy``, ``/why``, ``/optout``, ``/start``.
- ``app``: the Application and its wiring (``make_adapter``), polling or webhook.

Only this package imports python-telegram-bot. PTB 22 warns (an error under ``-W error``) whenever a
time period such as ``RetryAfter.retry_after`` is read as a number; ``PTB_TIMEDELTA`` makes it a
``timedelta``, so it is set here, before any ``telegram`` import in this package.
"""

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")
