"""The classic IRC replies clients and bots rely on (issue 12), over real sockets,
compared whole: command and every parameter."""

from __future__ import annotations

import asyncio
import dataclasses
import re

from chinwag.transport.server import Server
from tests.conftest import Connect, IrcClient, IrcConnect, make_config


async def test_info_answers_371_lines_then_374(irc: IrcConnect) -> None:
    alice = await irc("alice")
    await alice.send("INFO")
    lines = await alice.lines_until_cmd("374")
    assert re.fullmatch(r":chinwag 371 alice :chinwag-\S+, chinwag chat server", lines[0]), lines
    assert lines[1] == ":chinwag 371 alice :text, IRC and IRC-over-WebSocket users in the same rooms"
    assert re.fullmatch(r":chinwag 371 alice :On-line since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", lines[2])
    assert lines[3:] == [":chinwag 374 alice :End of /INFO list"]


async def test_lusers_counts_local_and_global_users_now_and_at_most(irc: IrcConnect) -> None:
    alice = await irc("alice")
    bob = await irc("bob")
    await bob.send("QUIT :bye")
    await bob.closed()
    await alice.send("LUSERS")
    lines = await alice.lines_until_cmd("266")
    assert lines[-3:] == [
        ":chinwag 255 alice :I have 1 clients and 0 servers",
        ":chinwag 265 alice 1 2 :Current local users 1, max 2",
        ":chinwag 266 alice 1 2 :Current global users 1, max 2",
    ]


async def test_whois_ends_with_318_after_the_away_line_and_names_the_server(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("AWAY :lunch")
    await alice.expect_cmd("306")
    await bob.send("WHOIS alice")
    lines = await bob.lines_until_cmd("318")
    assert lines[0] == ":chinwag 311 bob alice ~alice chinwag * :alice real"
    assert lines[1] == ":chinwag 312 bob alice chinwag :chinwag chat server"
    assert lines[2] == ":chinwag 301 bob alice lunch"
    assert re.fullmatch(r":chinwag 317 bob alice \d+ \d+ :seconds idle, signon time", lines[3])
    assert lines[4:] == [":chinwag 318 bob alice :End of /WHOIS list"]
    await bob.send("PING :after")  # nothing trails the 318 (301 used to come after it)
    assert await bob.line() == ":chinwag PONG chinwag after"


async def test_user_keeps_username_with_tilde_and_realname_empty_realname_is_461(irc: IrcConnect) -> None:
    c = await irc()
    await c.send("NICK carol", "USER carol 0 * :")
    assert await c.line() == ":chinwag 461 * USER :not enough parameters"
    await c.send("USER cbot!x@y_long_name 0 * :Carol C. Real")
    await c.expect_cmd("422")
    bob = await irc("bob")
    await bob.send("WHOIS carol")
    assert await bob.line() == ":chinwag 311 bob carol ~cbotxy_lo chinwag * :Carol C. Real"  # user_len 10, "~" in it
    await bob.send("WHO carol", "USERHOST carol")
    assert await bob.expect_cmd("352") == ":chinwag 352 bob * ~cbotxy_lo chinwag chinwag carol H :0 Carol C. Real"
    assert await bob.line() == ":chinwag 315 bob carol :End of /WHO list"
    assert await bob.line() == ":chinwag 302 bob carol=+~cbotxy_lo@chinwag"


async def test_usable_keys_only_a_key_with_spaces_or_only_spaces_gets_696(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("JOIN #k")
    await alice.expect_cmd("366")
    for key in ("two words", "   ", ""):
        await alice.send(f"MODE #k +k :{key}")
        assert await alice.line() == ":chinwag 696 alice #k k * :invalid key: it must be one word"
    await bob.send("JOIN #k")  # no key was set
    assert await bob.line() == ":bob!~bob@chinwag JOIN #k"
    await alice.send("MODE #k +k :one")
    assert await alice.expect_cmd("MODE") == ":alice!~alice@chinwag MODE #k +k one"


async def test_away_notify_announces_the_away_state_of_who_joins(irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("away-notify",))
    plain = await irc("plain")
    bob = await irc("bob")
    for c in (alice, plain):
        await c.send("JOIN #dev")
        await c.expect_cmd("366")
    await bob.send("AWAY :gone fishing", "JOIN #dev")
    await alice.expect(":bob!~bob@chinwag JOIN #dev")
    assert await alice.line() == ":bob!~bob@chinwag AWAY :gone fishing"
    await plain.expect(":bob!~bob@chinwag JOIN #dev")
    await plain.send("PING :x")  # no AWAY for a client without away-notify
    assert await plain.line() == ":chinwag PONG chinwag x"


async def test_names_of_several_rooms_one_pair_per_room(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("JOIN #a,#b")
    await alice.expect_cmd("366")
    await alice.expect_cmd("366")
    await bob.send("NAMES #a,#nowhere,#b")
    assert await bob.line() == ":chinwag 353 bob = #a @alice"
    assert await bob.line() == ":chinwag 366 bob #a :End of /NAMES list"
    assert await bob.line() == ":chinwag 366 bob #nowhere :End of /NAMES list"
    assert await bob.line() == ":chinwag 353 bob = #b @alice"
    assert await bob.line() == ":chinwag 366 bob #b :End of /NAMES list"


async def test_labeled_echo_ack_and_unknown_command_keep_their_label(irc: IrcConnect) -> None:
    caps = ("labeled-response", "batch", "message-tags", "echo-message")
    alice = await irc("alice", caps=caps)
    bob = await irc("bob")
    for c in (alice, bob):
        await c.send("JOIN #dev")
        await c.expect_cmd("366")
    await alice.expect(":bob!~bob@chinwag JOIN #dev")
    await alice.send("@label=m1 PRIVMSG #dev :hello")
    echo = await alice.line()  # the echo itself carries the label: no BATCH around one line
    assert re.fullmatch(r"@msgid=[0-9a-f]{16};label=m1 :alice!~alice@chinwag PRIVMSG #dev hello", echo), echo
    await alice.send("@label=n1 NOTICE bob :psst")
    echo = await alice.line()
    assert re.fullmatch(r"@msgid=[0-9a-f]{16};label=n1 :alice!~alice@chinwag NOTICE bob psst", echo), echo
    await alice.send("@label=u1 FROBNICATE x")
    assert await alice.line() == "@label=u1 :chinwag 421 alice FROBNICATE :unknown command"
    await alice.send("@label=a1 AWAY")  # not away: 305 is the one reply
    assert await alice.line() == "@label=a1 :chinwag 305 alice :You are no longer marked as being away"
    await alice.send("@label=p1 PONG :x")
    assert await alice.line() == "@label=p1 :chinwag ACK"


async def test_pong_and_replies_carry_the_configured_server_name() -> None:
    srv = Server(dataclasses.replace(make_config(), server_name="irc.example.org"))
    await srv.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        c = IrcClient(r, w)
        await c.send("PING :early")
        assert await c.line() == ":irc.example.org PONG irc.example.org early"
        await c.send("NICK dan", "USER dan 0 * :Dan")
        assert (await c.line()).startswith(":irc.example.org 001 dan :Welcome")
        await c.expect_cmd("422")
        await c.send("PING :late", "WHOIS dan")
        assert await c.line() == ":irc.example.org PONG irc.example.org late"
        await c.line()
        assert await c.line() == ":irc.example.org 312 dan dan irc.example.org :chinwag chat server"
        await c.close()
    finally:
        await srv.shutdown()


WHEN = r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4} UTC"


async def test_whowas_remembers_nicks_given_up_newest_first_with_counts_and_406(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("NICK alicia")
    await alice.expect_cmd("NICK")
    await alice.send("NICK alice")
    await alice.expect_cmd("NICK")
    await alice.send("QUIT :bye")
    await alice.closed()
    await bob.send("WHOWAS alice")  # given up twice: the quit (newest), then the first nick change
    lines = await bob.lines_until_cmd("369")
    assert [line.split(" :")[0] for line in lines] == [
        ":chinwag 314 bob alice ~alice chinwag *", ":chinwag 312 bob alice chinwag",
        ":chinwag 314 bob alice ~alice chinwag *", ":chinwag 312 bob alice chinwag",
        ":chinwag 369 bob alice",
    ]
    assert lines[0] == ":chinwag 314 bob alice ~alice chinwag * :alice real"
    assert re.fullmatch(rf":chinwag 312 bob alice chinwag :{WHEN}", lines[1]), lines[1]
    assert lines[-1] == ":chinwag 369 bob alice :End of WHOWAS"
    await bob.send("WHOWAS alice 1", "WHOWAS ghost,alicia")
    assert (await bob.line()) == ":chinwag 314 bob alice ~alice chinwag * :alice real"
    assert re.fullmatch(rf":chinwag 312 bob alice chinwag :{WHEN}", await bob.line())
    assert await bob.line() == ":chinwag 369 bob alice :End of WHOWAS"
    assert await bob.line() == ":chinwag 406 bob ghost :There was no such nickname"
    assert await bob.line() == ":chinwag 369 bob ghost :End of WHOWAS"
    assert await bob.line() == ":chinwag 314 bob alicia ~alice chinwag * :alice real"
    await bob.line()
    assert await bob.line() == ":chinwag 369 bob alicia :End of WHOWAS"
    await bob.send("WHOWAS")
    assert await bob.line() == ":chinwag 461 bob WHOWAS :not enough parameters"


async def test_whowas_memory_is_bounded_by_whowas_max(irc: IrcConnect) -> None:
    srv = Server(make_config(whowas_max=2))
    await srv.start()
    try:
        carol = await irc("carol", srv=srv)
        for new in ("c1", "c2", "c3"):  # carol, c1, c2 given up: carol is forgotten
            await carol.send(f"NICK {new}")
            await carol.expect_cmd("NICK")
        await carol.send("WHOWAS carol", "WHOWAS c1")
        assert await carol.line() == ":chinwag 406 c3 carol :There was no such nickname"
        assert await carol.line() == ":chinwag 369 c3 carol :End of WHOWAS"
        assert await carol.line() == ":chinwag 314 c3 c1 ~carol chinwag * :carol real"
    finally:
        await srv.shutdown()


async def test_who_352_fields_and_whox_354_in_the_spec_order(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("JOIN #dev")
    await alice.expect_cmd("366")
    await bob.send("JOIN #dev", "AWAY :out")
    await bob.expect_cmd("306")
    await alice.send("WHO #dev")
    assert await alice.expect_cmd("352") == ":chinwag 352 alice #dev ~alice chinwag chinwag alice H@ :0 alice real"
    assert await alice.line() == ":chinwag 352 alice #dev ~bob chinwag chinwag bob G :0 bob real"
    assert await alice.line() == ":chinwag 315 alice #dev :End of /WHO list"
    # fields asked out of order come back in t c u i h s n f d l a o r order
    await alice.send("WHO #dev %rnafcuhtsdlio,42")
    assert await alice.line() == (":chinwag 354 alice 42 #dev ~alice 255.255.255.255 chinwag chinwag alice H@ 0 0 0 n/a"
                                  " :alice real")
    assert await alice.line() == (":chinwag 354 alice 42 #dev ~bob 255.255.255.255 chinwag chinwag bob G 0 0 0 n/a"
                                  " :bob real")
    assert await alice.line() == ":chinwag 315 alice #dev :End of /WHO list"
    await alice.send("WHO bob %na", "WHO b* %tn,1234", "WHO bob")  # a 4-digit token is not a token
    assert await alice.line() == ":chinwag 354 alice bob 0"
    assert await alice.line() == ":chinwag 315 alice bob :End of /WHO list"
    assert await alice.line() == ":chinwag 354 alice 0 bob"
    assert await alice.line() == ":chinwag 315 alice b* :End of /WHO list"
    assert await alice.line() == ":chinwag 352 alice * ~bob chinwag chinwag bob G :0 bob real"


async def test_whox_is_advertised(irc: IrcConnect) -> None:
    c = await irc()
    await c.send("NICK dora", "USER dora 0 * :Dora")
    burst = await c.lines_until_cmd("422")
    tokens = " ".join(line for line in burst if " 005 " in line).split(" ")
    assert "WHOX" in tokens and "USERLEN=10" in tokens


async def test_secret_room_hidden_from_list_names_who_whois_of_non_members(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("JOIN #hush,#open", "MODE #hush +s")
    assert await alice.expect_cmd("MODE") == ":alice!~alice@chinwag MODE #hush +s"
    await alice.send("NAMES #hush")
    assert await alice.line() == ":chinwag 353 alice @ #hush @alice"  # members see it, marked @
    assert await alice.line() == ":chinwag 366 alice #hush :End of /NAMES list"
    await bob.send("LIST")
    assert await bob.lines_until_cmd("323") == [
        ":chinwag 321 bob Channel :Users  Name", ":chinwag 322 bob #open 1 :", ":chinwag 323 bob :End of /LIST"]
    await bob.send("NAMES #hush", "WHO #hush", "WHOIS alice")
    assert await bob.line() == ":chinwag 366 bob #hush :End of /NAMES list"
    assert await bob.line() == ":chinwag 315 bob #hush :End of /WHO list"
    assert await bob.line() == ":chinwag 311 bob alice ~alice chinwag * :alice real"
    assert await bob.line() == ":chinwag 319 bob alice @#open"
    await bob.expect_cmd("318")
    await bob.send("LIST #hush")
    assert await bob.line() == ":chinwag 321 bob Channel :Users  Name"
    assert await bob.line() == ":chinwag 323 bob :End of /LIST"


async def test_private_room_is_marked_star_in_names(irc: IrcConnect) -> None:
    alice = await irc("alice")
    await alice.send("JOIN #quiet", "MODE #quiet +p")
    assert await alice.expect_cmd("MODE") == ":alice!~alice@chinwag MODE #quiet +p"
    await alice.send("NAMES #quiet", "MODE #quiet")
    assert await alice.line() == ":chinwag 353 alice * #quiet @alice"
    assert await alice.line() == ":chinwag 366 alice #quiet :End of /NAMES list"
    assert await alice.line() == ":chinwag 324 alice #quiet +npt"


MSGID = r"msgid=[0-9a-f]{16}"


async def test_client_only_tags_relayed_to_message_tags_clients_and_stripped_for_others(
        irc: IrcConnect, connect: Connect) -> None:
    alice = await irc("alice", caps=("message-tags",))
    bob = await irc("bob", caps=("message-tags",))
    carol = await irc("carol")
    for c in (alice, bob, carol):
        await c.send("JOIN #dev")
        await c.expect_cmd("366")
    await bob.expect(":carol!~carol@chinwag JOIN #dev")
    await carol.send("JOIN #side")  # a line carol gets after the TAGMSG, if she got it
    await carol.expect_cmd("366")
    await alice.send("@+draft/reply=0123456789abcdef;+example.com/x=a\\sb;server=no PRIVMSG #dev :hi")
    got = await bob.line()
    assert re.fullmatch(rf"@{MSGID};\+draft/reply=0123456789abcdef;\+example.com/x=a\\sb "
                        r":alice!~alice@chinwag PRIVMSG #dev :hi", got), got
    assert await carol.expect_cmd("PRIVMSG") == ":alice!~alice@chinwag PRIVMSG #dev :hi"
    await alice.send("@+typing=active;+draft/react=👍 TAGMSG #dev")
    got = await bob.line()
    assert re.fullmatch(rf"@{MSGID};\+typing=active;\+draft/react=👍 :alice!~alice@chinwag TAGMSG #dev", got), got
    await carol.send("PING :no-tagmsg")
    assert await carol.line() == ":chinwag PONG chinwag no-tagmsg"  # carol has no message-tags: nothing
    await alice.send("PING :no-echo")  # without echo-message the sender gets none either
    assert await alice.expect_cmd("PONG") == ":chinwag PONG chinwag no-echo"
    assert [line for line in alice.seen if " TAGMSG " in line or " PRIVMSG " in line] == []


async def test_tagmsg_never_reaches_text_users_nor_history(irc: IrcConnect, connect: Connect) -> None:
    alice = await irc("alice", caps=("message-tags", "echo-message", "draft/chathistory", "batch"))
    text = await connect("tom")
    await alice.send("JOIN #lobby")
    await alice.expect_cmd("366")
    await alice.send("@+typing=active TAGMSG #lobby", "PRIVMSG #lobby :after")
    got = await alice.line()
    assert re.fullmatch(rf"@{MSGID};\+typing=active :alice!~alice@chinwag TAGMSG #lobby", got), got
    assert re.fullmatch(rf"@{MSGID} :alice!~alice@chinwag PRIVMSG #lobby :after", await alice.line())
    await text.expect("alice has joined #lobby")
    assert (await text.line()).endswith("alice: after")  # the text user's next line is the message
    await alice.send("CHATHISTORY LATEST #lobby * 10")
    lines = await alice.lines_until_cmd("BATCH")
    lines += await alice.lines_until_cmd("BATCH")
    assert [line for line in lines if "TAGMSG" in line] == []
    assert len([line for line in lines if "PRIVMSG #lobby :after" in line]) == 1


async def test_client_tags_over_4094_bytes_get_417_and_nothing_is_relayed(irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("message-tags",))
    bob = await irc("bob", caps=("message-tags",))
    await bob.send("JOIN #dev")
    await bob.expect_cmd("366")
    await alice.send(f"@+big={'x' * 4100} PRIVMSG bob :hi", f"@+big={'x' * 4100} TAGMSG bob")
    assert await alice.line() == ":chinwag 417 alice :input line was too long"
    assert await alice.line() == ":chinwag 417 alice :input line was too long"
    await alice.send(f"@+big={'x' * 4000} PRIVMSG bob :fits")
    got = await bob.line()
    assert got.endswith(" :alice!~alice@chinwag PRIVMSG bob :fits") and f"+big={'x' * 4000} " in got


async def test_a_secret_room_is_not_in_a_text_users_room_list(irc: IrcConnect, connect: Connect) -> None:
    alice = await irc("alice")
    await alice.send("JOIN #hush", "MODE #hush +s")
    await alice.expect_cmd("MODE")
    tom = await connect("tom")
    await tom.send("/rooms")
    assert await tom.expect("* rooms:") == "* rooms: #lobby (1)"
