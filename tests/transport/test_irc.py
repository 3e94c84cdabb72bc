"""IRC over real sockets: raw conversations with the exact numerics expected."""

from __future__ import annotations

import dataclasses
import re

from chinwag.core.auth import hash_password
from chinwag.transport.server import Server
from tests.conftest import Connect, IrcClient, IrcConnect, LineClient, irc_command, make_config

SRC = "alice!~alice@chinwag"


async def test_registration_burst_and_isupport(irc: IrcConnect) -> None:
    c = await irc()
    await c.send("NICK alice", "USER alice 0 * :Alice A")
    burst = await c.lines_until_cmd("422")
    assert burst[0] == f":chinwag 001 alice :Welcome to the chinwag IRC Network {SRC}"
    assert [irc_command(line) for line in burst] == [
        "001", "002", "003", "004", "005", "005", "251", "252", "253", "254", "255", "265", "266", "422"]
    isupport = " ".join(line for line in burst if irc_command(line) == "005")
    for token in ("NICKLEN=32", "CHANNELLEN=64", "TOPICLEN=390", "CHANTYPES=#", "PREFIX=(ov)@+",
                  "CHANMODES=bq,k,l,imnpst", "EXTBAN=~,a", "CASEMAPPING=rfc8265", "UTF8ONLY", "LINELEN=512",
                  "MAXTARGETS=4",
                  "NETWORK=chinwag", "AWAYLEN=200", "KICKLEN=255", "CHATHISTORY=500",
                  "MSGREFTYPES=msgid,timestamp"):
        assert token in isupport.split(" ")
    assert ":chinwag 251 alice :There are 1 users and 0 invisible on 1 servers" in burst


async def test_registration_errors(irc: IrcConnect) -> None:
    await irc("alice")
    c = await irc()
    await c.send("JOIN #x")
    assert await c.line() == ":chinwag 451 * :you have not registered"
    await c.send("NICK")
    assert await c.line() == ":chinwag 431 * :no nickname given"
    await c.send("USER bob 0 *")
    assert await c.line() == ":chinwag 461 * USER :not enough parameters"
    await c.send("NICK 9bob", "USER bob 0 * :Bob")
    assert (await c.line()).startswith(":chinwag 432 * 9bob :invalid name")
    await c.send("NICK Alice")
    assert await c.line() == ":chinwag 433 * Alice :name taken"
    await c.send("NICK bob")
    assert (await c.line()).startswith(":chinwag 001 bob ")
    await c.expect_cmd("422")
    await c.send("USER again 0 * :x", "FROB x")
    assert await c.line() == ":chinwag 462 bob :you are already registered"
    assert await c.line() == ":chinwag 421 bob FROB :unknown command"


async def test_ping_pong_from_client(irc: IrcConnect) -> None:
    c = await irc()
    await c.send("PING :abc")  # allowed before registration
    assert await c.line() == ":chinwag PONG chinwag abc"


async def test_join_names_privmsg_part_quit(irc: IrcConnect) -> None:
    alice = await irc("alice")
    bob = await irc("bob")
    await alice.send("JOIN #dev")
    assert await alice.line() == f":{SRC} JOIN #dev"
    assert await alice.line() == ":chinwag 353 alice = #dev @alice"
    assert await alice.line() == ":chinwag 366 alice #dev :End of /NAMES list"
    await bob.send("JOIN #dev")
    assert await alice.line() == ":bob!~bob@chinwag JOIN #dev"
    assert await bob.expect_cmd("353") == ":chinwag 353 bob = #dev :@alice bob"
    await bob.send("PRIVMSG #dev :hello there")
    assert await alice.line() == ":bob!~bob@chinwag PRIVMSG #dev :hello there"
    await bob.send("PRIVMSG alice :psst", "NOTICE #dev :note")
    assert await alice.line() == ":bob!~bob@chinwag PRIVMSG alice :psst"
    assert await alice.line() == ":bob!~bob@chinwag NOTICE #dev :note"
    await bob.send("PART #dev :bye")
    assert await alice.line() == ":bob!~bob@chinwag PART #dev bye"
    await bob.send("PING :marker")
    assert await bob.expect_cmd("PONG") == ":chinwag PONG chinwag marker"
    # no echo without echo-message: bob saw only his own JOIN/NAMES/PART
    assert not [line for line in bob.seen if "hello there" in line or "psst" in line]
    await bob.send("JOIN #dev", "QUIT :gone home")
    assert await alice.expect_cmd("QUIT") == ":bob!~bob@chinwag QUIT :gone home"
    rest = await bob.closed()
    assert rest[-1] == "ERROR :Closing Link: bob (Quit: gone home)"


async def test_message_errors(irc: IrcConnect) -> None:
    alice = await irc("alice")
    await irc("bob")
    await alice.send("PRIVMSG nobody :hi")
    assert await alice.line() == ":chinwag 401 alice nobody :no such nick"
    await alice.send("PRIVMSG #nowhere :hi")
    assert await alice.line() == ":chinwag 403 alice #nowhere :no such room"
    await alice.send("PRIVMSG", "PRIVMSG bob", "PRIVMSG a,b,c,d,e :x")
    assert await alice.line() == ":chinwag 411 alice :no recipient given (PRIVMSG)"
    assert await alice.line() == ":chinwag 412 alice :no text to send"
    assert await alice.line() == ":chinwag 407 alice a,b,c,d,e :too many targets"
    await alice.send("NOTICE nobody :x", "NOTICE", "PART #nowhere", "JOIN")
    assert await alice.line() == ":chinwag 403 alice #nowhere :no such room"  # NOTICE: silent
    assert await alice.line() == ":chinwag 461 alice JOIN :not enough parameters"


async def test_room_errors_404_442_482(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("JOIN #dev")
    await alice.expect_cmd("366")
    await bob.send("PRIVMSG #dev :outside")  # +n by default
    assert await bob.line() == ":chinwag 404 bob #dev :cannot send to room: no external messages (+n)"
    await bob.send("PART #dev")
    assert await bob.line() == ":chinwag 442 bob #dev :you are not in that room"
    await bob.send("JOIN #dev")
    await bob.expect_cmd("366")
    await bob.send("TOPIC #dev :mine", "KICK #dev alice", "MODE #dev +m")
    for _ in range(3):
        assert await bob.line() == ":chinwag 482 bob #dev :you are not a room operator"
    await alice.send("MODE #dev +m")
    assert await bob.line() == f":{SRC} MODE #dev +m"
    await bob.send("PRIVMSG #dev :muted")
    assert await bob.line() == ":chinwag 404 bob #dev :cannot send to room: the room is moderated (+m)"
    await alice.send("MODE #dev +v bob")
    assert await bob.line() == f":{SRC} MODE #dev +v bob"
    await bob.send("PRIVMSG #dev :voiced")
    assert await alice.expect_cmd("PRIVMSG") == ":bob!~bob@chinwag PRIVMSG #dev :voiced"


async def test_topic_with_who_and_when(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("JOIN #dev", "TOPIC #dev")
    assert await alice.expect_cmd("331") == ":chinwag 331 alice #dev :No topic is set"
    await alice.send("TOPIC #dev :release on friday")
    assert await alice.line() == f":{SRC} TOPIC #dev :release on friday"
    await bob.send("JOIN #dev")
    got = await bob.lines_until_cmd("366")
    assert got[1] == ":chinwag 332 bob #dev :release on friday"
    assert re.fullmatch(r":chinwag 333 bob #dev alice \d+", got[2])
    await bob.send("TOPIC #dev")
    assert await bob.line() == ":chinwag 332 bob #dev :release on friday"
    await bob.send("TOPIC #nowhere")
    assert await bob.expect_cmd("403") == ":chinwag 403 bob #nowhere :no such room"


async def test_modes_keys_limits_invites_bans(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("JOIN #ops", "MODE #ops")
    assert re.fullmatch(r":chinwag 324 alice #ops \+nt", await alice.expect_cmd("324"))
    assert re.fullmatch(r":chinwag 329 alice #ops \d+", await alice.line())
    await alice.send("MODE #ops +kl secret 1")
    assert await alice.line() == f":{SRC} MODE #ops +kl secret 1"
    await bob.send("JOIN #ops")
    assert await bob.line() == ":chinwag 475 bob #ops :cannot join room (+k): wrong or missing key"
    await bob.send("JOIN #ops secret")
    assert await bob.line() == ":chinwag 471 bob #ops :cannot join room (+l): it is full"
    await alice.send("MODE #ops -lk+i *")
    assert await alice.line() == f":{SRC} MODE #ops -lk+i *"
    await bob.send("JOIN #ops")
    assert await bob.line() == ":chinwag 473 bob #ops :cannot join room (+i): invitation only"
    await alice.send("INVITE bob #ops")
    assert await alice.line() == ":chinwag 341 alice bob #ops"
    assert await bob.line() == f":{SRC} INVITE bob #ops"
    await bob.send("JOIN #ops")
    assert await bob.line() == ":bob!~bob@chinwag JOIN #ops"
    await alice.send("INVITE bob #ops")
    assert await alice.expect_cmd("443") == ":chinwag 443 alice bob #ops :is already in that room"
    await alice.send("KICK #ops bob :behave")
    assert await bob.expect_cmd("KICK") == f":{SRC} KICK #ops bob behave"
    await alice.send("MODE #ops -i", "MODE #ops +b bob", "MODE #ops b")
    await alice.expect_cmd("MODE")
    assert await alice.expect_cmd("MODE") == f":{SRC} MODE #ops +b bob!*@*"
    assert re.fullmatch(r":chinwag 367 alice #ops bob!\*@\* alice \d+", await alice.line())
    assert await alice.line() == ":chinwag 368 alice #ops :End of channel ban list"
    await bob.send("JOIN #ops")
    assert await bob.line() == ":chinwag 474 bob #ops :cannot join room (+b): you are banned"
    await alice.send("MODE #ops +z", "MODE #ops +o nobody", "MODE #ops +o bob")
    assert await alice.line() == ":chinwag 472 alice z :is an unknown mode character"
    assert await alice.line() == ":chinwag 401 alice nobody :no such nick"
    assert await alice.line() == ":chinwag 441 alice bob #ops :they are not in that room"


async def test_user_modes(irc: IrcConnect) -> None:
    alice = await irc("alice")
    await irc("bob")
    await alice.send("MODE alice +i", "MODE alice", "MODE bob +i", "MODE alice +x")
    assert await alice.line() == ":alice MODE alice +i"
    assert await alice.line() == ":chinwag 221 alice +i"
    assert await alice.line() == ":chinwag 502 alice :you cannot change modes of other users"
    assert await alice.line() == ":chinwag 501 alice :unknown user mode flag"
    await alice.send("LUSERS")
    assert await alice.line() == ":chinwag 251 alice :There are 1 users and 1 invisible on 1 servers"


async def test_join_several_and_join_zero(irc: IrcConnect) -> None:
    alice = await irc("alice")
    await alice.send("JOIN #a,#b")
    await alice.expect_cmd("366")
    assert await alice.line() == f":{SRC} JOIN #b"
    await alice.expect_cmd("366")
    await alice.send("JOIN 0")
    assert await alice.line() == f":{SRC} PART #a"
    assert await alice.line() == f":{SRC} PART #b"


async def test_names_list_who_whois(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("JOIN #dev", "TOPIC #dev :chat")
    await alice.expect_cmd("TOPIC")
    await bob.send("JOIN #dev", "NAMES #dev")
    await bob.expect_cmd("366")
    assert await bob.line() == ":chinwag 353 bob = #dev :@alice bob"
    assert await bob.line() == ":chinwag 366 bob #dev :End of /NAMES list"
    await bob.send("NAMES #nowhere")
    assert await bob.line() == ":chinwag 366 bob #nowhere :End of /NAMES list"
    await bob.send("LIST")
    assert await bob.line() == ":chinwag 321 bob Channel :Users  Name"
    assert await bob.line() == ":chinwag 322 bob #dev 2 chat"
    assert await bob.line() == ":chinwag 323 bob :End of /LIST"
    await bob.send("WHO #dev")
    assert await bob.line() == ":chinwag 352 bob #dev ~alice chinwag chinwag alice H@ :0 alice real"
    assert await bob.line() == ":chinwag 352 bob #dev ~bob chinwag chinwag bob H :0 bob real"
    assert await bob.line() == ":chinwag 315 bob #dev :End of /WHO list"
    await bob.send("WHOIS alice")
    assert await bob.line() == ":chinwag 311 bob alice ~alice chinwag * :alice real"
    assert await bob.line() == ":chinwag 319 bob alice @#dev"
    assert await bob.line() == ":chinwag 312 bob alice chinwag :chinwag chat server"
    assert re.fullmatch(r":chinwag 317 bob alice \d+ \d+ :seconds idle, signon time", await bob.line())
    assert await bob.line() == ":chinwag 318 bob alice :End of /WHOIS list"
    await bob.send("WHOIS ghost")
    assert await bob.line() == ":chinwag 401 bob ghost :no such nick"
    assert await bob.line() == ":chinwag 318 bob ghost :End of /WHOIS list"


async def test_away_ison_userhost(irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("away-notify",))
    bob = await irc("bob")
    for c in (alice, bob):
        await c.send("JOIN #dev")
        await c.expect_cmd("366")
    await bob.send("AWAY :lunch")
    assert await bob.line() == ":chinwag 306 bob :You have been marked as being away"
    assert await alice.expect_cmd("AWAY") == ":bob!~bob@chinwag AWAY lunch"
    await alice.send("PRIVMSG bob :you there?")
    assert await alice.line() == ":chinwag 301 alice bob lunch"
    await alice.send("ISON bob nobody alice", "USERHOST bob alice")
    assert await alice.line() == ":chinwag 303 alice :bob alice"
    assert await alice.line() == ":chinwag 302 alice :bob=-~bob@chinwag alice=+~alice@chinwag"
    await bob.send("AWAY")
    assert await bob.expect_cmd("305") == ":chinwag 305 bob :You are no longer marked as being away"
    assert await alice.expect_cmd("AWAY") == ":bob!~bob@chinwag AWAY"


async def test_version_time_motd_lusers(irc: IrcConnect) -> None:
    alice = await irc("alice")
    await alice.send("VERSION")
    assert await alice.line() == ":chinwag 351 alice chinwag-0.1.0 chinwag :chinwag chat server"
    await alice.expect_cmd("005")
    await alice.send("TIME")
    assert re.fullmatch(r":chinwag 391 alice chinwag :\w+ .*\+00:00", await alice.expect_cmd("391"))
    await alice.send("MOTD")
    assert await alice.expect_cmd("422") == ":chinwag 422 alice :MOTD File is missing"
    await alice.send("LUSERS")
    assert await alice.expect_cmd("255") == ":chinwag 255 alice :I have 1 clients and 0 servers"


async def test_nick_change_and_433(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    for c in (alice, bob):
        await c.send("JOIN #dev")
        await c.expect_cmd("366")
    await alice.send("NICK bob")
    assert await alice.expect_cmd("433") == ":chinwag 433 alice bob :name taken"
    await alice.send("NICK al")
    assert await alice.line() == f":{SRC} NICK al"
    assert await bob.expect_cmd("NICK") == f":{SRC} NICK al"
    await alice.send("PRIVMSG #dev :renamed")
    assert await bob.expect_cmd("PRIVMSG") == ":al!~alice@chinwag PRIVMSG #dev :renamed"


async def test_417_input_too_long_then_carry_on(irc: IrcConnect) -> None:
    alice, bob = await irc("alice"), await irc("bob")
    await alice.send("PRIVMSG bob :" + "x" * 600, "PRIVMSG bob :after")
    assert await alice.line() == ":chinwag 417 alice :input line was too long"
    assert await bob.expect_cmd("PRIVMSG") == f":{SRC} PRIVMSG bob :after"
    alice.writer.write(b"PRIVMSG bob :caf\xe9\r\n")
    assert await bob.expect_cmd("PRIVMSG") == f":{SRC} PRIVMSG bob :caf\ufffd"


async def test_cap_negotiation(irc: IrcConnect) -> None:
    c = await irc()
    await c.send("CAP LS 302", "NICK alice", "USER alice 0 * :A")
    assert await c.line() == (":chinwag CAP * LS :account-notify draft/account-registration account-tag away-notify "
                              "batch draft/chathistory echo-message draft/event-playback extended-join "
                              "labeled-response draft/message-redaction message-tags "
                              "draft/multiline=max-bytes=4096,max-lines=100 multi-prefix draft/read-marker "
                              "sasl=PLAIN,SCRAM-SHA-256 server-time standard-replies userhost-in-names setname chghost "
                              "invite-notify no-implicit-names draft/no-implicit-names")
    await c.send("CAP REQ :server-time bogus")
    assert await c.line() == ":chinwag CAP * NAK :server-time bogus"
    await c.send("CAP REQ :server-time echo-message", "CAP LIST", "CAP FOO")
    assert await c.line() == ":chinwag CAP * ACK :server-time echo-message"
    assert await c.line() == ":chinwag CAP * LIST :echo-message server-time"
    assert await c.line() == ":chinwag 410 * FOO :Invalid CAP command"
    await c.send("CAP END")  # registration waited for it
    assert (await c.line()).startswith(":chinwag 001 alice ")


async def test_echo_message_server_time_and_msgid(irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("echo-message", "server-time", "message-tags"))
    bob = await irc("bob")
    await alice.send("PRIVMSG bob :hi")
    echo = await alice.expect_cmd("PRIVMSG")
    m = re.fullmatch(r"@time=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z);msgid=([0-9a-f]{16}) "
                     + re.escape(f":{SRC} PRIVMSG bob :hi"), echo)
    assert m, echo
    assert await bob.expect_cmd("PRIVMSG") == f":{SRC} PRIVMSG bob :hi"  # no tags for bob


async def test_labeled_response(irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("labeled-response", "batch", "message-tags", "echo-message"))
    await irc("bob")
    await alice.send("@label=one PING :x")
    assert await alice.line() == "@label=one :chinwag PONG chinwag x"
    await alice.send("@label=two PRIVMSG bob :hi")
    echo = await alice.line()  # the echo is the one-line answer: it carries the label
    assert re.fullmatch(r"@msgid=[0-9a-f]{16};label=two " + re.escape(f":{SRC} PRIVMSG bob hi"), echo), echo
    await alice.send("@label=three MODE alice +w")
    got = await alice.line()
    assert got == "@label=three :alice MODE alice +w"
    await alice.send("@label=four JOIN #dev")
    batch = await alice.lines_until_cmd("BATCH")
    start = batch[-1]
    m = re.fullmatch(r"@label=four :chinwag BATCH \+(\S+) labeled-response", start)
    assert m, start
    ref = m.group(1)
    body = await alice.lines_until_cmd("BATCH")
    assert body[0] == f"@batch={ref} :{SRC} JOIN #dev"
    assert body[-1] == f":chinwag BATCH -{ref}"
    await alice.send("@label=five PONG :x")
    assert await alice.line() == "@label=five :chinwag ACK"


async def test_multi_prefix_and_userhost_in_names(irc: IrcConnect) -> None:
    alice = await irc("alice", caps=("multi-prefix", "userhost-in-names"))
    await alice.send("JOIN #dev", "MODE #dev +v alice", "NAMES #dev")
    await alice.expect_cmd("MODE")
    assert await alice.expect_cmd("353") == ":chinwag 353 alice = #dev @+alice!~alice@chinwag"


async def test_server_operators_kill_wallops(tmp_path: object) -> None:
    cfg = dataclasses.replace(make_config(), operators={"root": hash_password("hunter2", iterations=1000)})
    srv = Server(cfg)
    await srv.start()
    clients: list[IrcClient] = []
    try:
        async def conn(nick: str) -> IrcClient:
            import asyncio

            r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
            c = IrcClient(r, w)
            clients.append(c)
            await c.register(nick)
            return c

        alice, bob, carol = await conn("alice"), await conn("bob"), await conn("carol")
        await bob.send("JOIN #bob")
        await bob.expect_cmd("366")
        await alice.send("KILL bob :x", "WALLOPS :hi", "OPER root wrong")
        assert await alice.line() == ":chinwag 481 alice :permission denied: you are not a server operator"
        assert await alice.line() == ":chinwag 481 alice :permission denied: you are not a server operator"
        assert await alice.line() == ":chinwag 464 alice :password incorrect"
        await alice.send("OPER root hunter2")
        assert await alice.line() == ":chinwag 381 alice :You are now an IRC operator"
        assert await alice.line() == ":alice MODE alice +o"
        # an operator acts as room operator anywhere, even from outside
        await alice.send("MODE #bob +m")
        assert await bob.expect_cmd("MODE") == f":{SRC} MODE #bob +m"
        await carol.send("MODE carol +w")
        await carol.expect_cmd("MODE")
        await alice.send("WALLOPS :maintenance at noon")
        assert await carol.line() == f":{SRC} WALLOPS :maintenance at noon"
        await alice.send("KILL bob :spamming")
        assert await bob.line() == f":{SRC} KILL bob spamming"
        rest = await bob.closed()
        assert rest == ["ERROR :Closing Link: bob (Killed (alice (spamming)))"]
        await alice.send("WHOIS bob")
        assert await alice.expect_cmd("401") == ":chinwag 401 alice bob :no such nick"
    finally:
        for c in clients:
            await c.close()
        await srv.shutdown()


async def test_server_password_irc_and_text() -> None:
    import asyncio

    srv = Server(dataclasses.replace(make_config(), password="letmein"))
    await srv.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        bad = IrcClient(r, w)
        await bad.send("PASS nope", "NICK bad", "USER bad 0 * :x")
        assert await bad.line() == ":chinwag 464 * :password incorrect"
        assert await bad.closed() == ["ERROR :Closing Link: * (Bad Password)"]
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        good = IrcClient(r, w)
        await good.send("PASS letmein")
        await good.register("good")
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
        text = LineClient(r, w)
        await text.expect("What is your name?")
        await text.send("tess")
        assert await text.line() == "This server has a password. Password?"
        await text.send("letmein")
        assert await text.line() == "Welcome to chinwag, tess! Type /help for commands."
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("text"))
        wrong = LineClient(r, w)
        await wrong.send("tom", "guess")
        # another try (the address failed once before: the wait has doubled)
        assert await wrong.expect("wrong password") == "* wrong password (next try in 2 s). Password?"
        for c in (bad, good, text, wrong):
            await c.close()
    finally:
        await srv.shutdown()


async def test_ping_timeout_closes_silent_client() -> None:
    import asyncio

    srv = Server(make_config(ping_interval=1, ping_timeout=1))
    await srv.start()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
        c = IrcClient(r, w)
        await c.register("sleepy")
        assert await c.expect_cmd("PING") == "PING chinwag"
        rest = await c.closed()
        assert rest[-1].startswith("ERROR :Closing Link: sleepy (Ping timeout: ")
        await c.close()
    finally:
        await srv.shutdown()


# --- text user <-> IRC user ------------------------------------------------------------


async def test_text_and_irc_users_see_each_other(connect: Connect, irc: IrcConnect) -> None:
    tess = await connect("tess")
    ian = await irc("ian")
    await ian.send("JOIN #lobby")
    names = await ian.expect_cmd("353")
    assert names == ":chinwag 353 ian = #lobby :tess ian"  # #lobby is registered: no op for the first in
    assert await tess.expect("has joined") == "* ian has joined #lobby"
    await tess.send("hello irc")
    assert await ian.expect_cmd("PRIVMSG") == ":tess!~tess@chinwag PRIVMSG #lobby :hello irc"
    await ian.send("PRIVMSG #lobby :hello text")
    assert (await tess.expect("hello text")).endswith("] ian: hello text")
    await tess.send("/me waves")
    assert await ian.expect_cmd("PRIVMSG") == ":tess!~tess@chinwag PRIVMSG #lobby :\x01ACTION waves\x01"
    await ian.send("PRIVMSG #lobby :\x01ACTION bows\x01")
    assert (await tess.expect("bows")).endswith("] * ian bows")
    await ian.send("JOIN #side")  # ian creates it: he is its operator
    await ian.expect_cmd("366")
    await tess.send("/join #side")
    await ian.expect_cmd("JOIN")
    await ian.send("TOPIC #side :welcome all")
    assert await tess.expect("topic") == "* ian set the topic of #side to: welcome all"
    await tess.send("/nick tessa")
    assert await ian.expect_cmd("NICK") == ":tess!~tess@chinwag NICK tessa"
    await ian.send("NICK ivan")
    assert await tess.expect("ian is now") == "* ian is now known as ivan"
    await ian.send("KICK #side tessa :testing")
    assert await tess.expect("kicked") == "* you were kicked from #side by ivan (testing)"
    await tess.send("/quit bye all")
    assert await ian.expect_cmd("QUIT") == ":tessa!~tess@chinwag QUIT :bye all"
    await ian.send("QUIT :done")
    await ian.closed()


async def test_long_text_message_is_split_for_irc(connect: Connect, irc: IrcConnect) -> None:
    tess = await connect("tess")
    ian = await irc("ian")
    await ian.send("JOIN #lobby")
    await ian.expect_cmd("366")
    await tess.send("é" * 600)
    lines = [await ian.expect_cmd("PRIVMSG") for _ in range(3)]  # 1200 bytes of text
    assert all(len(line.encode()) + 2 <= 512 for line in lines)
    assert "".join(line.split(" :", 1)[1] for line in lines) == "é" * 600
