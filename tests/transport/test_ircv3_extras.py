"""IRCv3 the modern clients use (issue 12): setname, chghost, invite-notify,
no-implicit-names and the +typing relay, over real sockets, compared whole."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator

from chinwag.protocols.irc.message import Message
from chinwag.transport.server import Server
from tests.client.conftest import ngircd  # noqa: F401  (the fixture: a real ngircd on a free port)
from tests.conftest import IrcClient, IrcConnect, make_config
from tests.hostile.test_accounts import FAST, PASSWORD

MSGID = r"msgid=[0-9a-f]{16}"


async def together(room: str, *clients: IrcClient) -> None:
    """Each joins ``room`` in turn, and every earlier one has seen the later ones come."""
    for i, c in enumerate(clients):
        await c.send(f"JOIN {room}")
        await c.expect_cmd("366")
        for earlier in clients[:i]:
            assert (await earlier.expect_cmd("JOIN")).startswith(f":{c.nick}!")


async def quiet(c: IrcClient, token: str) -> list[str]:
    """What ``c`` receives before the PONG for ``token``: [] proves nothing else came."""
    await c.send(f"PING :{token}")
    lines = await c.lines_until_cmd("PONG")
    assert lines[-1] == f":chinwag PONG chinwag {token}", lines
    return lines[:-1]


# --- setname ------------------------------------------------------------------------


async def test_setname_reaches_room_peers_with_the_cap_and_whois_who_show_it(irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("setname",))
    bob = await irc("bob", caps=("setname",))
    carol = await irc("carol")  # no setname: hears nothing of it
    dave = await irc("dave", caps=("setname",))  # shares no room with alice
    await together("#dev", alice, bob, carol)
    await alice.send("SETNAME :Alice Liddell <alice@example.org>")
    change = ":alice!~alice@chinwag SETNAME :Alice Liddell <alice@example.org>"
    assert await alice.line() == change  # the confirmation
    assert await bob.line() == change
    assert await quiet(carol, "c") == []
    assert await quiet(dave, "d") == []
    await carol.send("WHOIS alice")
    assert await carol.line() == ":chinwag 311 carol alice ~alice chinwag * :Alice Liddell <alice@example.org>"
    await carol.send("WHO #dev")
    assert await carol.expect_cmd("352") == (
        ":chinwag 352 carol #dev ~alice chinwag chinwag alice H@ :0 Alice Liddell <alice@example.org>")


async def test_setname_too_long_or_empty_is_fail_invalid_realname_and_namelen_says_the_limit(
        irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("setname",))
    assert "NAMELEN=100" in " ".join(line for line in alice.seen if " 005 " in line)
    for name in ("x" * 101, "   "):
        await alice.send(f"SETNAME :{name}")
        assert await alice.line() == ":chinwag FAIL SETNAME INVALID_REALNAME :Realname is not valid"
    await alice.send(f"SETNAME :{'y' * 100}")
    assert await alice.line() == f":alice!~alice@chinwag SETNAME {'y' * 100}"
    await alice.send("WHOIS alice")
    assert await alice.line() == f":chinwag 311 alice alice ~alice chinwag * {'y' * 100}"


async def test_setname_without_the_cap_changes_the_name_silently(irc: IrcConnect) -> None:
    alice = await irc("alice")
    await alice.send("SETNAME :Quiet Change")
    assert await quiet(alice, "q") == []
    await alice.send("WHOIS alice")
    assert await alice.line() == ":chinwag 311 alice alice ~alice chinwag * :Quiet Change"


async def test_user_realname_over_realname_len_is_cut(irc: IrcConnect) -> None:
    c = await irc()
    await c.send("NICK long", f"USER long 0 * :{'z' * 150}")
    await c.expect_cmd("422")
    await c.send("WHOIS long")
    assert await c.line() == f":chinwag 311 long long ~long chinwag * {'z' * 100}"


# --- no-implicit-names ------------------------------------------------------------------


async def test_no_implicit_names_either_cap_no_names_after_join_but_names_answers(irc: IrcConnect) -> None:
    for cap in ("no-implicit-names", "draft/no-implicit-names"):
        c = await irc(f"n{len(cap)}", caps=(cap,))
        room = f"#q{len(cap)}"  # (a room keeps its topic: one each)
        await c.send(f"JOIN {room}", f"TOPIC {room} :about")
        assert await c.line() == f":{c.nick}!~{c.nick}@chinwag JOIN {room}"
        assert await c.line() == f":{c.nick}!~{c.nick}@chinwag TOPIC {room} about"  # no 353/366 between
        await c.send(f"JOIN {room}")  # already in: no NAMES either
        assert await quiet(c, "again") == []
        await c.send(f"NAMES {room}")
        assert await c.line() == f":chinwag 353 {c.nick} = {room} @{c.nick}"
        assert await c.line() == f":chinwag 366 {c.nick} {room} :End of /NAMES list"
        await c.send(f"PART {room}")
        await c.expect_cmd("PART")
    plain = await irc("plain")
    await plain.send("JOIN #quiet")
    assert await plain.line() == ":plain!~plain@chinwag JOIN #quiet"
    assert await plain.line() == ":chinwag 353 plain = #quiet @plain"
    assert await plain.line() == ":chinwag 366 plain #quiet :End of /NAMES list"


async def test_no_implicit_names_in_a_big_room_sends_no_names_either() -> None:
    srv = Server(make_config(crowd_size=2))
    await srv.start()
    try:
        clients = []
        for nick in ("a1", "a2", "a3"):
            c = await _irc_on(srv, nick)
            await c.send("JOIN #big")
            await c.expect_cmd("366")
            clients.append(c)
        late = await _irc_on(srv, "late", caps=("no-implicit-names",))
        await late.send("JOIN #big")
        assert await late.line() == ":late!~late@chinwag JOIN #big"
        assert await quiet(late, "big") == []
        for c in (*clients, late):
            await c.close()
    finally:
        await srv.shutdown()


async def _irc_on(srv: Server, nick: str, caps: tuple[str, ...] = ()) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    c = IrcClient(r, w)
    await c.register(nick, caps)
    return c


# --- invite-notify --------------------------------------------------------------------------


async def test_invite_notify_reaches_members_who_could_invite_with_the_cap(irc: IrcConnect) -> None:
    op = await irc("op", caps=("invite-notify",))
    member = await irc("member", caps=("invite-notify",))
    plain = await irc("plain")
    guest = await irc("guest", caps=("invite-notify",))
    await together("#club", op, member, plain)
    await op.send("INVITE guest #club")
    assert await op.line() == ":chinwag 341 op guest #club"  # RFC 2812: <nick> <channel>, as ngircd
    assert await guest.line() == ":op!~op@chinwag INVITE guest #club"
    assert await member.line() == ":op!~op@chinwag INVITE guest #club"
    assert await quiet(plain, "p") == []
    await op.send("MODE #club +i")
    for c in (op, member, plain):
        assert await c.expect_cmd("MODE") == ":op!~op@chinwag MODE #club +i"
    other = await irc("other")
    await op.send("INVITE other #club")  # +i: only operators may invite, so only they hear it
    assert await op.line() == ":chinwag 341 op other #club"
    assert await other.line() == ":op!~op@chinwag INVITE other #club"
    assert await quiet(member, "m") == []
    await op.send("MODE #club +o member")
    await member.expect_cmd("MODE")
    third = await irc("third")
    await member.send("INVITE third #club")
    assert await member.line() == ":chinwag 341 member third #club"
    assert await op.expect_cmd("INVITE") == ":member!~member@chinwag INVITE third #club"
    assert await third.line() == ":member!~member@chinwag INVITE third #club"


# --- chghost --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def cloaked() -> AsyncIterator[Server]:
    config = dataclasses.replace(make_config(**FAST), account_host="account/{account}")
    srv = Server(config)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.shutdown()


async def test_chghost_on_login_and_logout_and_the_fallback_for_clients_without_it() -> None:
    async with cloaked() as srv:
        alice = await _irc_on(srv, "alice", caps=("chghost",))
        modern = await _irc_on(srv, "modern", caps=("chghost",))
        classic = await _irc_on(srv, "classic", caps=("away-notify",))
        for room in ("#one", "#two"):
            await together(room, alice, modern, classic)
        # (alice is op in both: she created them)
        await alice.send("AWAY reading")
        await classic.expect_cmd("AWAY")
        await alice.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        await alice.expect_cmd("900")
        assert await alice.expect_cmd("CHGHOST") == ":alice!~alice@chinwag CHGHOST ~alice account/alice"
        assert await modern.expect_cmd("CHGHOST") == ":alice!~alice@chinwag CHGHOST ~alice account/alice"
        assert await quiet(modern, "m") == []  # no QUIT/JOIN besides
        assert await classic.line() == ":alice!~alice@chinwag QUIT :Changing hostname"
        assert await classic.line() == ":alice!~alice@account/alice JOIN #one"
        assert await classic.line() == ":chinwag MODE #one +o alice"
        assert await classic.line() == ":alice!~alice@account/alice AWAY reading"
        assert await classic.line() == ":alice!~alice@account/alice JOIN #two"
        assert await classic.line() == ":chinwag MODE #two +o alice"
        assert await classic.line() == ":alice!~alice@account/alice AWAY reading"
        assert await quiet(classic, "c") == []
        await classic.send("WHOIS alice", "PRIVMSG #one :hi")
        assert await classic.line() == ":chinwag 311 classic alice ~alice account/alice * :alice real"
        assert await alice.expect_cmd("PRIVMSG") == ":classic!~classic@chinwag PRIVMSG #one :hi"
        await alice.send("PRIVMSG #one :cloaked")
        assert await modern.expect_cmd("PRIVMSG") == ":classic!~classic@chinwag PRIVMSG #one :hi"
        assert await modern.expect_cmd("PRIVMSG") == ":alice!~alice@account/alice PRIVMSG #one :cloaked"
        await alice.send("PRIVMSG NickServ :LOGOUT")
        assert await modern.expect_cmd("CHGHOST") == ":alice!~alice@account/alice CHGHOST ~alice chinwag"
        assert await classic.expect_cmd("QUIT") == ":alice!~alice@account/alice QUIT :Changing hostname"
        assert await classic.line() == ":alice!~alice@chinwag JOIN #one"
        for c in (alice, modern, classic):
            await c.close()


async def test_voice_and_op_are_restored_in_the_fallback_and_mode_lists_both() -> None:
    async with cloaked() as srv:
        op = await _irc_on(srv, "op")
        bob = await _irc_on(srv, "bob", caps=("extended-join",))
        await together("#v", op, bob)
        await op.send("MODE #v +v bob")
        await bob.expect_cmd("MODE")
        await op.send("MODE #v +o bob")
        await bob.expect_cmd("MODE")
        watcher = await _irc_on(srv, "watcher", caps=("extended-join",))
        await together("#v", watcher)
        await bob.expect_cmd("JOIN")
        await op.expect_cmd("JOIN")
        await bob.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        assert await bob.expect_cmd("396") == ":chinwag 396 bob account/bob :is now your displayed host"
        assert await watcher.expect_cmd("QUIT") == ":bob!~bob@chinwag QUIT :Changing hostname"
        assert await watcher.line() == ":bob!~bob@account/bob JOIN #v bob :bob real"
        assert await watcher.line() == ":chinwag MODE #v +ov bob bob"
        assert await op.expect_cmd("QUIT") == ":bob!~bob@chinwag QUIT :Changing hostname"
        assert await op.line() == ":bob!~bob@account/bob JOIN #v"
        for c in (op, bob, watcher):
            await c.close()


async def test_sasl_login_before_registration_is_shown_with_the_account_host_from_the_start() -> None:
    async with cloaked() as srv:
        owner = await _irc_on(srv, "zed")
        await owner.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        await owner.expect_cmd("900")
        await owner.send("QUIT")
        await owner.closed()
        await owner.close()
        c = await _irc_on_raw(srv)
        await c.send("CAP LS 302", "NICK zed", "USER zed 0 * :Zed", "CAP REQ :sasl")
        await c.expect_cmd("CAP")
        await c.expect_cmd("CAP")
        await c.send("AUTHENTICATE PLAIN")
        await c.line()
        await c.send("AUTHENTICATE " + base64.b64encode(f"\0zed\0{PASSWORD}".encode()).decode())
        await c.expect_cmd("903")
        await c.send("CAP END")
        await c.expect_cmd("422")
        c.nick = "zed"
        other = await _irc_on(srv, "other")
        await together("#z", c, other)
        await c.send("PRIVMSG #z :hello")
        assert await other.expect_cmd("PRIVMSG") == ":zed!~zed@account/zed PRIVMSG #z :hello"
        await c.close()
        await other.close()


async def _irc_on_raw(srv: Server) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    return IrcClient(r, w)


async def test_without_account_host_a_login_changes_no_host(irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("chghost",))
    bob = await irc("bob")
    await together("#dev", alice, bob)
    await alice.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    await alice.expect_cmd("900")
    assert [line for line in await quiet(alice, "a") if "CHGHOST" in line] == []
    assert await quiet(bob, "b") == []


# --- +typing ----------------------------------------------------------------------------------


async def test_typing_reaches_room_members_with_message_tags_only_and_is_not_history(irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("message-tags",))
    bob = await irc("bob", caps=("message-tags", "draft/chathistory", "batch"))
    carol = await irc("carol")
    outsider = await irc("outsider", caps=("message-tags",))
    await together("#dev", alice, bob, carol)
    for state in ("active", "paused", "done"):
        await alice.send(f"@+typing={state} TAGMSG #dev")
        got = await bob.line()
        assert re.fullmatch(rf"@{MSGID};\+typing={state} :alice!~alice@chinwag TAGMSG #dev", got), got
    await alice.send("@+typing=active TAGMSG bob")
    got = await bob.line()
    assert re.fullmatch(rf"@{MSGID};\+typing=active :alice!~alice@chinwag TAGMSG bob", got), got
    assert await quiet(carol, "c") == []
    assert await quiet(outsider, "o") == []
    await bob.send("CHATHISTORY LATEST #dev * 10")
    lines = await bob.lines_until_cmd("BATCH")
    lines += await bob.lines_until_cmd("BATCH")
    assert [line for line in lines if "typing" in line or "TAGMSG" in line] == []


# --- INVITE against ngircd --------------------------------------------------------------------


async def _invite_exchange(port: int) -> list[list[tuple[str, tuple[str, ...]]]]:
    """(command, parameters but the text of numerics) of each answer; the
    invited user's INVITE with its source nick."""
    async def client(nick: str) -> IrcClient:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        c = IrcClient(r, w)
        await c.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} real")
        await c.expect_cmd("251")
        await c.send("PING :registered")
        await c.expect("registered")
        return c

    alice, bob, carol = await client("alice"), await client("bob"), await client("carol")
    await alice.send("JOIN #inv", "PING :ready")
    await alice.expect("ready")
    answers = []

    async def ask(c: IrcClient, line: str) -> None:
        await c.send(line, "PING :end-of-answer")
        got = [Message.parse(text) for text in (await c.lines_until_cmd("PONG"))[:-1]]
        texts = [m.command.isdigit() and m.command != "341" for m in got]  # 341's last is the channel
        answers.append([(m.command, m.params[:-1] if text else m.params) for m, text in zip(got, texts, strict=True)])

    await ask(alice, "INVITE bob #inv")  # 341 alice bob #inv
    got = Message.parse(await bob.expect_cmd("INVITE"))
    answers.append([(got.command, ((got.source or "").split("!")[0], *got.params))])
    await ask(carol, "INVITE bob #inv")  # not on that channel: 442
    await ask(alice, "INVITE nobody #inv")  # 401
    await bob.send("JOIN #inv", "PING :joined")
    await bob.expect("joined")
    await alice.send("MODE #inv +i", "PING :moded")
    await alice.expect("moded")
    await ask(alice, "INVITE bob #inv")  # already there: 443
    await ask(bob, "INVITE carol #inv")  # +i and bob no operator: 482
    for c in (alice, bob, carol):
        await c.close()
    return answers


async def test_invite_replies_are_ngircds(ngircd: int) -> None:  # noqa: F811
    theirs = await _invite_exchange(ngircd)
    srv = Server(make_config())
    await srv.start()
    try:
        ours = await _invite_exchange(srv.port("irc"))
    finally:
        await srv.shutdown()
    assert ours == theirs
    assert ours[0] == [("341", ("alice", "bob", "#inv"))]  # RFC 2812 says <channel> <nick>; servers send this
    assert ours[1] == [("INVITE", ("alice", "bob", "#inv"))]
