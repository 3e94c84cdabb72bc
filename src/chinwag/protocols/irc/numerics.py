"""Numeric replies: ChatError -> numeric at the edge, and the ISUPPORT tokens.

``error_reply`` is the one place a domain error becomes IRC: the numeric is the
error type's entry in ``ERROR_NUMERICS`` (core/errors.py's errors carry no
IRC codes), the parameters follow the numeric's
shape, and the text is the error's human reason.
"""

from __future__ import annotations

from typing import Final

from chinwag.config import Limits
from chinwag.core.accounts import (
    AccountError,
    AccountExists,
    AlreadyLoggedIn,
    LoginFailed,
    TooManyAccounts,
    WeakPassword,
)
from chinwag.core.errors import (
    AlreadyRegistered,
    BadRoomKey,
    BannedFromRoom,
    CannotSendToRoom,
    ChatError,
    ErroneousNick,
    InvalidModeParam,
    InviteOnly,
    MaskTooLong,
    NickInUse,
    NoPrivileges,
    NoSuchNick,
    NoSuchRoom,
    NoText,
    NotInRoom,
    NotRegistered,
    NotRoomOperator,
    NotSent,
    PasswordMismatch,
    RoomIsFull,
    RoomNameError,
    RoomRulesFull,
    TooManyRooms,
    UnknownMode,
    UnknownUserMode,
    UserInRoom,
    UserNotInRoom,
    UsersDontMatch,
)
from chinwag.core.names import CASEMAPPING
from chinwag.core.types.ircv3 import StandardReplyError
from chinwag.core.types.registered import NotFounder, RoomServiceError
from chinwag.core.types.userinfo import InvalidRealname
from chinwag.protocols.sanitize import terminal_safe

RPL_WELCOME: Final = "001"
RPL_YOURHOST: Final = "002"
RPL_CREATED: Final = "003"
RPL_MYINFO: Final = "004"
RPL_ISUPPORT: Final = "005"
RPL_UMODEIS: Final = "221"
RPL_LUSERCLIENT: Final = "251"
RPL_LUSEROP: Final = "252"
RPL_LUSERUNKNOWN: Final = "253"
RPL_LUSERCHANNELS: Final = "254"
RPL_LUSERME: Final = "255"
RPL_LOCALUSERS: Final = "265"
RPL_GLOBALUSERS: Final = "266"
RPL_AWAY: Final = "301"
RPL_USERHOST: Final = "302"
RPL_ISON: Final = "303"
RPL_UNAWAY: Final = "305"
RPL_NOWAWAY: Final = "306"
RPL_WHOISUSER: Final = "311"
RPL_WHOISSERVER: Final = "312"
RPL_WHOISOPERATOR: Final = "313"
RPL_WHOISACCOUNT: Final = "330"
RPL_ENDOFWHO: Final = "315"
RPL_WHOISIDLE: Final = "317"
RPL_ENDOFWHOIS: Final = "318"
RPL_WHOISCHANNELS: Final = "319"
RPL_WHOWASUSER: Final = "314"
RPL_LISTSTART: Final = "321"
RPL_LIST: Final = "322"
RPL_LISTEND: Final = "323"
RPL_CHANNELMODEIS: Final = "324"
RPL_CREATIONTIME: Final = "329"
RPL_NOTOPIC: Final = "331"
RPL_TOPIC: Final = "332"
RPL_TOPICWHOTIME: Final = "333"
RPL_INVITING: Final = "341"
RPL_VERSION: Final = "351"
RPL_WHOREPLY: Final = "352"
RPL_NAMREPLY: Final = "353"
RPL_WHOSPCRPL: Final = "354"
RPL_ENDOFNAMES: Final = "366"
RPL_BANLIST: Final = "367"
RPL_ENDOFBANLIST: Final = "368"
RPL_QUIETLIST: Final = "728"
RPL_ENDOFQUIETLIST: Final = "729"
RPL_ENDOFWHOWAS: Final = "369"
RPL_INFO: Final = "371"
RPL_MOTD: Final = "372"
RPL_ENDOFINFO: Final = "374"
RPL_MOTDSTART: Final = "375"
RPL_ENDOFMOTD: Final = "376"
RPL_YOUREOPER: Final = "381"
RPL_TIME: Final = "391"
ERR_NOSUCHNICK: Final = "401"
ERR_WASNOSUCHNICK: Final = "406"
ERR_TOOMANYMATCHES: Final = "416"
ERR_INPUTTOOLONG: Final = "417"
ERR_UNKNOWNCOMMAND: Final = "421"
ERR_NOMOTD: Final = "422"
ERR_NEEDMOREPARAMS: Final = "461"
ERR_INVALIDCAPCMD: Final = "410"

# Numerics whose only parameter after the client's nick is the text.
_NO_SUBJECT: Final = frozenset(
    {"411", "412", "417", "431", "451", "462", "464", "481", "491", "501", "502"}
)


# --- protocol-level errors (the IRC edge raises them, the same mapping answers) ---


class NoRecipient(ChatError):
    def default_reason(self) -> str:
        return "no recipient given"


class TooManyTargets(ChatError):
    def default_reason(self) -> str:
        return "too many targets"


class UnknownCommand(ChatError):
    def default_reason(self) -> str:
        return "unknown command"


class NoNicknameGiven(ChatError):
    def default_reason(self) -> str:
        return "no nickname given"


class NeedMoreParams(ChatError):
    def default_reason(self) -> str:
        return "not enough parameters"


class InputTooLong(ChatError):
    def default_reason(self) -> str:
        return "input line was too long"


# --- typed errors -> numerics (core raises plain typed errors; IRC maps them here) ---

# The closest numeric for each error type; an error type not listed takes its
# nearest listed base class's (ChatError: 400), so a subclass needs no entry.
ERROR_NUMERICS: Final[dict[type[ChatError], str]] = {
    ChatError: "400",
    NickInUse: "433",
    ErroneousNick: "432",
    RoomNameError: "479",
    NoSuchNick: "401",
    NoSuchRoom: "403",
    NotInRoom: "442",
    NoText: "412",
    NotRegistered: "451",
    AlreadyRegistered: "462",
    PasswordMismatch: "464",
    NoPrivileges: "481",
    CannotSendToRoom: "404",
    TooManyRooms: "405",
    UserNotInRoom: "441",
    UserInRoom: "443",
    RoomIsFull: "471",
    InviteOnly: "473",
    BannedFromRoom: "474",
    BadRoomKey: "475",
    NotRoomOperator: "482",
    RoomRulesFull: "400",
    UnknownMode: "472",
    UnknownUserMode: "501",
    UsersDontMatch: "502",
    MaskTooLong: "416",  # ERR_QUERYTOOLONG (ircu)
    InvalidModeParam: "696",  # ERR_INVALIDMODEPARAM
    NotSent: "400",
    AccountError: "400",
    LoginFailed: "904",
    AccountExists: "400",
    AlreadyLoggedIn: "907",
    WeakPassword: "400",
    TooManyAccounts: "400",
    StandardReplyError: "FAIL",
    RoomServiceError: "400",
    NotFounder: "482",
    InvalidRealname: "400",
    NoRecipient: "411",
    TooManyTargets: "407",
    UnknownCommand: "421",
    NoNicknameGiven: "431",
    NeedMoreParams: "461",
    InputTooLong: "417",
}


def numeric_of(error: ChatError) -> str:
    """The numeric that answers ``error`` (ERROR_NUMERICS, by the error's class or its nearest base)."""
    for cls in type(error).__mro__:
        code = ERROR_NUMERICS.get(cls)
        if code is not None:
            return code
    return "400"


def safe_param(param: str) -> str:
    """A client's word echoed back as a middle parameter (``401 me <nick> :...``):
    as given if IRC can carry it there, else ``*``. Empty, starting with ``:``
    or holding a space it would end or shift the parameters (and could not be
    serialized at all); a reply must never fail over what a client typed."""
    if not param or param[0] == ":" or " " in param or "\r" in param or "\n" in param or "\0" in param:
        return "*"
    return param


def error_params(error: ChatError, nick: str) -> tuple[str, tuple[str, ...]]:
    """(numeric, params) for ``error`` sent to ``nick`` ("*" before registration)."""
    code = numeric_of(error)
    reason = terminal_safe(error.reason)
    # An error the adapter raised itself echoes what was typed (472 for a mode
    # letter): terminal-safe, and left out if nothing is left of it.
    subject = terminal_safe(error.subject)
    if code in _NO_SUBJECT or not subject:
        return code, (nick, reason)
    if isinstance(error, InvalidModeParam):  # 696 <target> <mode char> <parameter> :<description>
        return code, (nick, safe_param(terminal_safe(error.room)), safe_param(error.mode), safe_param(subject), reason)
    room = getattr(error, "room", None)
    if isinstance(room, str):
        return code, (nick, safe_param(subject), safe_param(terminal_safe(room)), reason)
    return code, (nick, safe_param(subject), reason)


def not_sent(error: ChatError, command: str, nick: str, standard: bool) -> tuple[str, tuple[str, ...]]:
    """(command, params) telling ``nick`` its message to ``error.subject`` was not
    sent: an IRCv3 standard reply (``FAIL PRIVMSG TEMPORARILY_UNAVAILABLE``) to a
    client with ``standard-replies``, else a server NOTICE any client shows."""
    target = safe_param(error.subject)
    if standard:
        return "FAIL", (command.upper(), "TEMPORARILY_UNAVAILABLE", target, f"Message not sent: {error.reason}")
    return "NOTICE", (nick, f"*** Message to {target} not sent: {error.reason}")


def isupport_tokens(limits: Limits, network: str, history_max: int = 0) -> list[str]:
    """The 005 tokens, from the one Limits block (so clients see the real limits).

    ``history_max`` (the config's most messages per history request) is
    CHATHISTORY's limit; 0 leaves CHATHISTORY out.
    """
    t = limits.max_targets
    history = [f"CHATHISTORY={history_max}"] if history_max > 0 else []
    refs = ["MSGREFTYPES=msgid,timestamp"] if history_max > 0 else []
    return [
        f"AWAYLEN={limits.away_len}",
        f"CASEMAPPING={CASEMAPPING}",
        f"CHANLIMIT=#:{limits.max_rooms}",
        "CHANMODES=bq,k,l,imnpst",
        f"CHANNELLEN={limits.room_len}",
        "CHANTYPES=#",
        "EXTBAN=~,a",
        *history,
        f"KICKLEN={limits.kick_len}",
        f"LINELEN={limits.irc_line}",
        f"MAXLIST=b:{limits.max_bans},q:{limits.max_quiets}",
        f"MAXTARGETS={t}",
        f"MODES={limits.max_modes}",
        f"NAMELEN={limits.realname_len}",
        *refs,
        f"NETWORK={network}",
        f"NICKLEN={limits.nick_len}",
        "PREFIX=(ov)@+",
        f"TARGMAX=PRIVMSG:{t},NOTICE:{t},KICK:{t},JOIN:,PART:,NAMES:,WHOIS:1,USERHOST:5,ISON:",
        f"TOPICLEN={limits.topic_len}",
        f"USERLEN={limits.user_len}",
        "WHOX",
        "UTF8ONLY",
    ]
