"""The built-in experiment's coin: which interventions are held back as the control group.

How it works: the unit of the experiment is one detection (its community, place, triggering
message and signal), so every member-facing action of one detection lands in the same arm, and
the slow mode a detection set is lifted (or not) with it. The unit and a per-community salt are
hashed (SHA-256); the first 8 bytes, read as a number in [0, 1), fall under ``share`` for a held-back
unit. No randomness and no clock: a replay of the same events holds back the same interventions,
and a community's assignment cannot be guessed from another's.

Never held back, whatever the share: moderator alerts (a threat or attack must reach a human) and
anything a moderator or member asked for (``requested_by`` on a long-form space; the runtime passes
a moderator's requests with ``moderator=True`` and never asks this module).
"""

from __future__ import annotations

import hashlib

from bot.core.decisions import AlertModerators, Decision, OpenLongformSpace

_SCALE = float(1 << 64)


def draw(community: str, unit: str, salt: str) -> float:
    """A number in [0, 1), the same for the same arguments on every machine and run."""
    raw = "\x1f".join((salt, community, unit)).encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:8], "big") / _SCALE


def unit_of(decision: Decision) -> str:
    """The experiment unit a decision belongs to: its place, triggering message and signal."""
    conv = decision.conversation
    return "\x1f".join((conv.channel, conv.thread, decision.message_id, decision.signal.value))


def eligible(decision: Decision) -> bool:
    """True if ``decision`` may be held back: alerts and requested actions never are."""
    if isinstance(decision, AlertModerators):
        return False
    return not (isinstance(decision, OpenLongformSpace) and decision.requested_by)


def held_back(decision: Decision, share: float, salt: str) -> bool:
    """True if ``decision`` falls in the control group of an experiment holding back ``share``."""
    if share <= 0.0 or not eligible(decision):
        return False
    return draw(decision.conversation.community, unit_of(decision), salt) < share
