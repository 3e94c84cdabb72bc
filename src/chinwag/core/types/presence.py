"""Presence types: being away.

Part of the ``Command`` and ``Event`` unions of :mod:`chinwag.core.events`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SetAway:
    """Mark oneself away with a message; an empty message means back."""

    message: str = ""


@dataclass(frozen=True, slots=True)
class AwayChanged:
    """To the user (confirmation) and everyone sharing a room (IRC away-notify)."""

    nick: str
    message: str
    user: str = field(default="", compare=False)  # the actor's username (IRC prefix nick!user@host)


@dataclass(frozen=True, slots=True)
class IsAway:
    """A message or invitation reached someone who is away."""

    nick: str
    message: str
