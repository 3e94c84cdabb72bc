"""The timer behind nick protection (core/handlers/users.py): one at a time, for the
earliest deadline.

The hub keeps each grace period's end as data (``hub.guards``, times of
``hub.clock``); this only wakes up when the earliest is due and hands the
hub's renames to ``Server.deliver``. Armed after each command (``arm`` is a
dict check when nobody holds a nick that is not theirs).
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING

from chinwag.core.handlers import users

if TYPE_CHECKING:
    from chinwag.transport.server import Server

log = logging.getLogger("chinwag.server")


class NickGuard:
    def __init__(self, server: Server) -> None:
        self.server = server
        self._timer: asyncio.TimerHandle | None = None
        self._at = math.inf  # the deadline the timer is set for

    def arm(self) -> None:
        hub = self.server.hub
        if not hub.guards:
            return
        due = users.next_deadline(hub)
        if due is None or due >= self._at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._at = due
        delay = max(0.0, due - hub.clock())
        self._timer = asyncio.get_running_loop().call_later(delay, self.expire)

    def expire(self) -> None:
        """Rename whoever's grace period is over; then wait for the next one."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._at = None, math.inf
        try:
            self.server.deliver(users.expire(self.server.hub))
        except Exception:
            log.exception("nick protection failed")
        self.arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._at = None, math.inf
