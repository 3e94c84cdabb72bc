"""Typed domain errors; each protocol maps them to its own reply at its edge.

    ChatError
    ├── NameError_          a nick cannot be used
    │   ├── NickInUse
    │   └── ErroneousNick
    ├── RoomNameError       a room name is not valid
    ├── NoSuchNick          no such user online
    ├── NoSuchRoom          no such room exists
    ├── NotInRoom           the sender is not a member of that room
    ├── NoText              an empty message
    ├── NotRegistered       a command before registration
    ├── AlreadyRegistered   a second registration
    ├── PasswordMismatch    wrong server or operator password
    ├── NoPrivileges        needs a server operator
    ├── CannotSendToRoom    +n, +m or a ban stops the message
    ├── TooManyRooms        limits.max_rooms reached
    ├── UserNotInRoom       the *target* of KICK/MODE is not in the room
    ├── UserInRoom          INVITE of someone already there
    ├── CannotJoin          the room refuses the join
    │   ├── RoomIsFull        +l
    │   ├── InviteOnly        +i
    │   ├── BannedFromRoom    +b
    │   └── BadRoomKey        +k
    ├── NotRoomOperator     needs room operator status
    ├── RoomRulesFull       limits.max_room_rules rooms already have rules kept
    ├── UnknownMode         a room mode letter we do not know
    ├── UnknownUserMode     a user mode letter we do not know
    ├── MaskTooLong         a WHO mask over limits.mask_len
    ├── InvalidModeParam    a mode parameter refused (a ban mask over limits.mask_len)
    ├── UsersDontMatch      changing another user's modes
    └── NotSent             the history store cannot take the message (disk full)

InvalidModeParam carries ``room`` and ``mode`` besides the refused parameter
(its subject). Errors that concern a user *and* a room (UserNotInRoom, UserInRoom) carry the
room in ``room``.

The errors carry no wire codes: each protocol maps the types at its edge (IRC:
protocols/irc/numerics.py ERROR_NUMERICS; text: TextProtocol).
"""

from __future__ import annotations


class ChatError(Exception):

    def __init__(self, subject: str = "", reason: str = "") -> None:
        super().__init__(subject, reason)
        self.subject = subject
        self.reason = reason or self.default_reason()

    def default_reason(self) -> str:
        return "error"

    def __str__(self) -> str:
        return f"{self.reason}: {self.subject}" if self.subject else self.reason


class NameError_(ChatError):
    def __str__(self) -> str:
        # A reason that quotes the name already ("‘NickServ’ is reserved ...") needs it no second time.
        return self.reason if f"‘{self.subject}’" in self.reason else super().__str__()


class NickInUse(NameError_):

    def __init__(self, subject: str = "", reason: str = "", suggestion: str = "") -> None:
        super().__init__(subject, reason)
        self.suggestion = suggestion  # a free variant of the name ('' if none)

    def default_reason(self) -> str:
        return "name taken"


class ErroneousNick(NameError_):

    def default_reason(self) -> str:
        return "invalid name"


class RoomNameError(ChatError):

    def default_reason(self) -> str:
        return "invalid room name"


class NoSuchNick(ChatError):

    def default_reason(self) -> str:
        return "no such nick"


class NoSuchRoom(ChatError):

    def default_reason(self) -> str:
        return "no such room"


class NotInRoom(ChatError):

    def default_reason(self) -> str:
        return "you are not in that room"


class NoText(ChatError):

    def default_reason(self) -> str:
        return "no text to send"


class NotRegistered(ChatError):

    def default_reason(self) -> str:
        return "you have not registered"


class AlreadyRegistered(ChatError):

    def default_reason(self) -> str:
        return "you are already registered"


class PasswordMismatch(ChatError):
    """``retry_after``: seconds before the next check (0: not known);
    ``final``: no more tries on this connection, it is being closed."""


    def __init__(self, subject: str = "", reason: str = "", *, retry_after: float = 0.0, final: bool = False) -> None:
        super().__init__(subject, reason)
        self.retry_after = retry_after
        self.final = final

    def default_reason(self) -> str:
        return "password incorrect"


class NoPrivileges(ChatError):

    def default_reason(self) -> str:
        return "permission denied: you are not a server operator"


class CannotSendToRoom(ChatError):

    def default_reason(self) -> str:
        return "cannot send to room"


class TooManyRooms(ChatError):

    def default_reason(self) -> str:
        return "you have joined too many rooms"


class _UserAndRoom(ChatError):
    def __init__(self, nick: str, room: str, reason: str = "") -> None:
        super().__init__(nick, reason)
        self.room = room

    def __str__(self) -> str:
        return f"{self.reason}: {self.subject} {self.room}"


class UserNotInRoom(_UserAndRoom):

    def default_reason(self) -> str:
        return "they are not in that room"


class UserInRoom(_UserAndRoom):

    def default_reason(self) -> str:
        return "is already in that room"


class CannotJoin(ChatError):
    pass


class RoomIsFull(CannotJoin):

    def default_reason(self) -> str:
        return "cannot join room (+l): it is full"


class InviteOnly(CannotJoin):

    def default_reason(self) -> str:
        return "cannot join room (+i): invitation only"


class BannedFromRoom(CannotJoin):

    def default_reason(self) -> str:
        return "cannot join room (+b): you are banned"


class BadRoomKey(CannotJoin):

    def default_reason(self) -> str:
        return "cannot join room (+k): wrong or missing key"


class NotRoomOperator(ChatError):

    def default_reason(self) -> str:
        return "you are not a room operator"


class RoomRulesFull(ChatError):

    def default_reason(self) -> str:
        return "the server keeps no more room rules (modes, key, bans, topic); try later"


class UnknownMode(ChatError):

    def default_reason(self) -> str:
        return "unknown mode character"


class UnknownUserMode(ChatError):

    def default_reason(self) -> str:
        return "unknown user mode flag"


class UsersDontMatch(ChatError):

    def default_reason(self) -> str:
        return "you cannot change modes of other users"


class MaskTooLong(ChatError):

    def default_reason(self) -> str:
        return "mask too long"


class InvalidModeParam(ChatError):

    def __init__(self, room: str, mode: str, param: str, reason: str = "") -> None:
        super().__init__(param, reason)
        self.room = room
        self.mode = mode

    def default_reason(self) -> str:
        return "invalid mode parameter"

    def __str__(self) -> str:
        return f"{self.reason}: {self.room} +{self.mode} {self.subject}"


class NotSent(ChatError):
    """A message the history store could not take: it was never delivered.
    ``subject`` is the message's target."""


    def default_reason(self) -> str:
        return "history store unavailable (disk full?)"
