"""draft/multiline, draft/message-redaction and draft/read-marker on IRC:
their verbs (BATCH, REDACT, MARKREAD), the client's open multiline batch, and
the rendering of what they produce.

Multiline (https://ircv3.net/specs/extensions/multiline): a client batch
``BATCH +ref draft/multiline <target>`` ... ``BATCH -ref`` collects the
PRIVMSG lines tagged ``batch=ref`` and becomes ONE ``Say`` whose text is the
lines joined by "\\n" (a line tagged ``draft/multiline-concat`` joins the one
before it directly), with the lines as composed in ``Say.lines``. Limits:
``multiline_max_bytes`` (line feeds counted) and ``multiline_max_lines``,
advertised as the cap's value; past them, or for anything malformed,
``FAIL BATCH <code>`` and the whole batch is dropped (its remaining lines are
swallowed until its ``BATCH -ref``). Recipients with draft/multiline and batch
get a ``draft/multiline`` batch; others get each line as its own PRIVMSG
(blank lines left out, msgid and client tags on the first). History
(CHATHISTORY, a join's playback) replays it the same way: to a client with the
cap, a draft/multiline batch nested in the history batch. No line of a message is ever written with a line feed
in it: each becomes its own PRIVMSG.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from chinwag.core.errors import ChatError
from chinwag.core.events import Command, Failed, Message, Query, Say
from chinwag.core.names import casefold, is_room, validate_nick, validate_room
from chinwag.core.types.chat import ClientTags
from chinwag.core.types.ircv3 import MarkRead, ReadMarker, Redact, Redacted, StandardReplyError, V3Query, redact_error
from chinwag.protocols.base import RenderCache
from chinwag.protocols.irc import caps as C
from chinwag.protocols.irc.format import CTL, iso_time, source, split_utf8, tokens
from chinwag.protocols.irc.labels import in_batch
from chinwag.protocols.irc.message import Message as IrcMessage
from chinwag.protocols.irc.message import escape_tag_value

if TYPE_CHECKING:
    from chinwag.protocols.irc.adapter import IrcProtocol

CONCAT = "draft/multiline-concat"
_MSGID = re.compile(r"[0-9a-f]{16}")  # (as hub.ids makes them; anything else is no message of ours)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MULTILINE_BATCH = "draft/multiline"


@dataclass(slots=True)
class OpenBatch:
    """A client's multiline batch, between ``BATCH +ref`` and ``BATCH -ref``."""

    ref: str
    target: str
    tags: ClientTags
    lines: list[tuple[str, bool]] = field(default_factory=list)
    size: int = 0  # bytes of the combined message so far
    failed: bool = False  # refused: its lines are swallowed until BATCH -ref
    label: str | None = None  # labeled-response: the label of BATCH +ref, answered at BATCH -ref


def _fail(p: IrcProtocol, code: str, *context: str, reason: str) -> None:
    p.reply(IrcMessage("FAIL", ("BATCH", code, *context, reason), p.info.server_name))


# --- BATCH -------------------------------------------------------------------------------


def batch(p: IrcProtocol, m: IrcMessage, tags: ClientTags) -> list[Command]:
    """BATCH +ref draft/multiline <target> opens (``tags``: the client-only tags
    of that line, which go with the message); BATCH -ref closes (one Say)."""
    ref = m.params[0]
    if ref.startswith("+"):
        if len(m.params) < 3 or m.params[1] != MULTILINE_BATCH or C.MULTILINE not in p.caps or len(ref) < 2:
            _fail(p, "MULTILINE_INVALID", reason="Invalid multiline batch")
            return []
        if p.multiline is not None:  # one at a time: the open one is dropped too
            p.multiline = None
            _fail(p, "MULTILINE_INVALID", reason="Invalid multiline batch: one is already open")
            return []
        p.multiline = OpenBatch(ref[1:], m.params[2], tags)
        return []
    open_ = p.multiline
    if not ref.startswith("-") or open_ is None or ref[1:] != open_.ref:
        _fail(p, "MULTILINE_INVALID", reason="Invalid multiline batch: no such batch open")
        return []
    p.multiline = None
    if open_.failed:
        return []
    if not any(text for text, _ in open_.lines):  # (nothing but blank lines, or none)
        _fail(p, "MULTILINE_INVALID", reason="Invalid multiline batch: no message")
        return []
    text = "".join(("" if concat or i == 0 else "\n") + line for i, (line, concat) in enumerate(open_.lines))
    return [Say(open_.target, text, "privmsg", open_.tags, tuple(open_.lines))]


def labeled_open(p: IrcProtocol, m: IrcMessage, label: str, run: Callable[[], Iterable[Command | Query]]) -> bool:
    """labeled-response: a labeled ``BATCH +ref`` opens its batch here and its
    label answers the whole batch at ``BATCH -ref`` (the echo, labeled on its
    opening BATCH as the spec says), so nothing answers it now. True if handled
    (a refused one's FAIL goes out unlabeled)."""
    if not m.params[0].startswith("+") or p.multiline is not None:
        return False
    p._queue.extend(run())  # (IrcProtocol._run: the verb table's BATCH)
    if p.multiline is not None:
        p.multiline.label = label
    return True


def close_label(p: IrcProtocol, m: IrcMessage, label: str | None) -> str | None:
    """The label that answers ``BATCH -ref``: the one its BATCH +ref carried."""
    open_ = p.multiline
    if open_ is not None and m.params and m.params[0] == "-" + open_.ref and open_.label is not None:
        return open_.label
    return label


def in_open_batch(p: IrcProtocol, m: IrcMessage) -> bool:
    """Take ``m`` into the open multiline batch if it is tagged for it."""
    open_ = p.multiline
    if open_ is None or m.tags.get("batch") != open_.ref:
        return False
    if open_.failed:
        return True
    limits = p.limits
    if m.command != "PRIVMSG" or len(m.params) < 2:
        return _refuse(p, "MULTILINE_INVALID", reason="Invalid multiline batch: only PRIVMSG lines")
    if casefold(m.params[0]) != casefold(open_.target):
        return _refuse(p, "MULTILINE_INVALID_TARGET", open_.target, m.params[0], reason="Invalid multiline target")
    text, concat = m.params[1], CONCAT in m.tags
    if concat and not text:
        return _refuse(p, "MULTILINE_INVALID", reason="Invalid multiline batch: a blank line to concatenate")
    if len(open_.lines) >= limits.multiline_max_lines:
        return _refuse(p, "MULTILINE_MAX_LINES", str(limits.multiline_max_lines),
                       reason="Multiline batch max-lines exceeded")
    open_.size += len(text.encode()) + (1 if open_.lines and not concat else 0)
    if open_.size > limits.multiline_max_bytes:
        return _refuse(p, "MULTILINE_MAX_BYTES", str(limits.multiline_max_bytes),
                       reason="Multiline batch max-bytes exceeded")
    open_.lines.append((text, concat and bool(open_.lines)))
    return True


def _refuse(p: IrcProtocol, code: str, *context: str, reason: str) -> bool:
    assert p.multiline is not None
    p.multiline.failed = True
    p.multiline.lines.clear()
    _fail(p, code, *context, reason=reason)
    return True


# --- REDACT and MARKREAD -------------------------------------------------------------


def redact(p: IrcProtocol, m: IrcMessage) -> list[V3Query]:
    """REDACT <target> <msgid> [:reason]."""
    target, msgid = m.params[0], m.params[1]
    reason = m.params[2] if len(m.params) > 2 else ""
    if not _MSGID.fullmatch(msgid):
        raise redact_error("UNKNOWN_MSGID", target, msgid)
    return [Redact(target, msgid, reason)]


def markread(p: IrcProtocol, m: IrcMessage) -> list[V3Query]:
    """MARKREAD <target> [timestamp=YYYY-MM-DDThh:mm:ss.sssZ]."""
    if not m.params or not m.params[0]:
        raise StandardReplyError("MARKREAD", "NEED_MORE_PARAMS", (), "Missing parameters")
    target = m.params[0]
    try:
        if is_room(target):
            validate_room(target, p.limits.room_len)
        else:
            validate_nick(target, p.limits.nick_len)
    except ChatError:
        raise StandardReplyError("MARKREAD", "INVALID_PARAMS", (target,), "Invalid parameters") from None
    if len(m.params) == 1:
        return [MarkRead(target)]
    ms = timestamp_ms(m.params[1])
    if ms is None:
        raise StandardReplyError("MARKREAD", "INVALID_PARAMS", (m.params[1],), "Invalid parameters")
    return [MarkRead(target, ms)]


def timestamp_ms(param: str) -> int | None:
    """``timestamp=YYYY-MM-DDThh:mm:ss.sssZ`` (server-time's format) -> ms since the epoch."""
    kind, _, value = param.partition("=")
    if kind != "timestamp":
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // timedelta(milliseconds=1)


def joins(p: IrcProtocol, commands: list[Command]) -> list[Command | V3Query]:
    """With draft/read-marker and an account, each JOIN asks for its room's
    marker first, so the MARKREAD can go with the JOIN (render_joined)."""
    if C.READ_MARKER not in p.caps or p.account is None:
        return list(commands)
    out: list[Command | V3Query] = []
    for command in commands:
        room = getattr(command, "room", None)
        if isinstance(room, str):
            out.append(MarkRead(room, join=True))
        out.append(command)
    return out


# --- rendering --------------------------------------------------------------------------


def render_read_marker(p: IrcProtocol, e: ReadMarker, cache: RenderCache) -> bytes:
    if C.READ_MARKER not in p.caps:
        return b""
    value = f"timestamp={iso_time(e.ms / 1000)}" if e.ms is not None else "*"
    if e.join:  # sent with the JOIN it was asked for (render_joined)
        # (made when first needed; joins refused leave theirs; an attach brings one per room: up to max_rooms)
        limits = p.info.limits
        if p.marks is None or len(p.marks) > max(limits.join_markers_kept, limits.max_rooms):
            p.marks = {}
        p.marks[casefold(e.target)] = value
        return b""
    return IrcMessage("MARKREAD", (e.target, value), p.info.server_name).to_bytes()


def marker_for_join(p: IrcProtocol, room: str) -> bytes:
    """The MARKREAD that follows our own JOIN (the spec: before its 366)."""
    if C.READ_MARKER not in p.caps:
        return b""
    value = p.marks.pop(casefold(room), "*") if p.marks else "*"
    return IrcMessage("MARKREAD", (room, value), p.info.server_name).to_bytes()


def render_redacted(p: IrcProtocol, e: Redacted, cache: RenderCache) -> bytes:
    """REDACT to clients with draft/message-redaction; nothing to the others."""
    if C.MESSAGE_REDACTION not in p.caps:
        return b""
    key = ("REDACT", p._variant)
    data = cache.get(key)
    if data is None:
        _, with_time, with_tags, _ = p._variant
        tags = {}
        if with_time:
            tags["time"] = iso_time(e.ts)
        if with_tags:
            tags["msgid"] = e.msgid
        params = (e.target, e.redacted, e.reason.translate(CTL)) if e.reason else (e.target, e.redacted)
        data = cache[key] = IrcMessage("REDACT", params, source(e.nick, e.user), tags).to_bytes()
    return data


def render_failed(p: IrcProtocol, e: Failed) -> bytes | None:
    """FAIL <command> <code> <context...> :<reason> for a StandardReplyError."""
    error = e.error
    if not isinstance(error, StandardReplyError):
        return None
    return fail_line(p, error)


def fail_line(p: IrcProtocol, error: StandardReplyError) -> bytes:
    context = tuple(c for c in error.context if c and " " not in c and not c.startswith(":"))
    return IrcMessage("FAIL", (error.command, error.code, *context, error.reason), p.info.server_name).to_bytes()


def is_multiline(m: Message) -> bool:
    return len(m.lines) > 1 or "\n" in m.text


def nested_multiline(p: IrcProtocol, m: Message, ref: str) -> bytes | None:
    """A multi-line message replayed in history batch ``ref`` (CHATHISTORY, a
    join's playback) to a client with draft/multiline: its own draft/multiline
    batch, nested (its opening line tagged ``batch=ref``, its lines with their
    own batch), as it was delivered live. None when that does not apply: no
    outer batch, no cap, or not a multi-line message."""
    if not ref or C.MULTILINE not in p.caps or not is_multiline(m):
        return None
    first, _, rest = format_multiline(p, m, True).partition(b"\r\n")
    return in_batch(first, ref) + b"\r\n" + rest


def format_multiline(p: IrcProtocol, m: Message, as_batch: bool) -> bytes:
    """A multi-line message: a draft/multiline batch, or each line its own
    PRIVMSG (blank ones left out; msgid and client tags on the first)."""
    _, with_time, with_tags, with_account = p._variant
    lines = m.lines or tuple((line, False) for line in m.text.split("\n"))
    common = []
    if with_account and m.account:
        common.append(f"account={escape_tag_value(m.account)}")
    if with_time:
        common.append(f"time={iso_time(m.ts)}")
    first = [*common]
    if with_tags:
        first.append(f"msgid={m.msgid}")
        first.extend(f"{k}={escape_tag_value(v)}" if v else k for k, v in m.tags)
    verb = "NOTICE" if m.kind == "notice" else "PRIVMSG"
    who = source(m.nick, m.user)
    head = f":{who} {verb} {m.target} :"
    out: list[str] = []
    if as_batch:
        ref = f"ml{next(tokens)}"
        tags = f"@{';'.join(first)} " if first else ""
        out.append(f"{tags}:{who} BATCH +{ref} {MULTILINE_BATCH} {m.target}\r\n")
        budget = p.limits.irc_line - 2 - len(head.encode())
        for text, concat in lines:
            pieces = split_utf8(text.translate(CTL), budget) or [""]
            for i, piece in enumerate(pieces):
                joined = concat or i > 0
                tag = f"@batch={ref};{CONCAT} " if joined else f"@batch={ref} "
                out.append(f"{tag}{head}{piece}\r\n")
        out.append(f":{p.info.server_name} BATCH -{ref}\r\n")
        return "".join(out).encode()
    budget = p.limits.irc_line - 2 - len(head.encode())
    for text, _ in lines:
        if not text:
            continue  # the spec: no blank lines to clients without the cap
        for piece in split_utf8(text.translate(CTL), budget):
            chosen = first if not out else common
            prefix = f"@{';'.join(chosen)} " if chosen else ""
            out.append(f"{prefix}{head}{piece}\r\n")
    return "".join(out).encode()
