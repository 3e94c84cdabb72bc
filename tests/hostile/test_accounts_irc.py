"""Accounts on IRC over real sockets: SASL PLAIN and SCRAM-SHA-256 (hand-written
exchanges), PASS account:password, NickServ, account-notify, WHOIS 330, and
wrong SASL passwords rate-limited with a bystander served."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import logging

import pytest

from chinwag.transport.server import Server
from tests.conftest import IrcClient, make_config
from tests.hostile.bystander import Bystander
from tests.hostile.test_accounts import PASSWORD, registered, serving
from tests.hostile.test_hostile import serving_config
from tests.transport.test_chathistory import batch

SRC = "chinwag"


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


async def irc_conn(srv: Server) -> IrcClient:
    r, w = await asyncio.open_connection("127.0.0.1", srv.port("irc"))
    return IrcClient(r, w)


async def sasl_start(c: IrcClient, nick: str, mechanism: str) -> None:
    await c.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP REQ :sasl account-notify")
    ls = await c.expect_cmd("CAP")
    assert "sasl=PLAIN,SCRAM-SHA-256" in ls.split(" :", 1)[1].split()
    assert await c.expect_cmd("CAP") == f":{SRC} CAP * ACK :sasl account-notify"
    await c.send(f"AUTHENTICATE {mechanism}")
    assert await c.line() == "AUTHENTICATE +"


async def test_sasl_plain_logs_in_before_registration_and_whois_shows_the_account() -> None:
    # Two users of one account, each with a nick of its own: multiclient off
    # (on, the second would become alice: tests/transport/test_multiclient.py).
    async with serving_config(dataclasses.replace(make_config(), multiclient=False)) as srv:
        owner = await registered(srv, "alice")
        c = await irc_conn(srv)
        await sasl_start(c, "al", "PLAIN")
        await c.send("AUTHENTICATE " + b64(f"\0alice\0{PASSWORD}"))
        assert await c.line() == f":{SRC} 900 * *!~al@chinwag alice :You are now logged in as alice"
        assert await c.line() == f":{SRC} 903 * :SASL authentication successful"
        await c.send("CAP END")
        await c.expect_cmd("001")
        await c.send("WHOIS al")
        assert await c.expect_cmd("330") == f":{SRC} 330 al al alice :is logged in as"
        await c.close()
        await owner.close()


async def test_sasl_plain_wrong_password_904_then_delayed_then_closed_bystander_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "chinwag")
    async with serving() as srv:
        owner = await registered(srv, "alice")
        b = await Bystander.join(srv.port("irc"))
        b.start()
        c = await irc_conn(srv)
        await sasl_start(c, "mallory", "PLAIN")
        fails = []
        for i in range(5):
            await c.send("AUTHENTICATE " + b64(f"\0alice\0guess-{i}"))
            fails.append(await c.expect_cmd("904"))
            await c.send("AUTHENTICATE PLAIN")
            if i < 4:
                assert await c.line() == "AUTHENTICATE +"
        rest = await c.closed()
        await c.close()
        rtt = await b.stop()
        assert fails == [f":{SRC} 904 * :SASL authentication failed"] * 5
        assert rest[-1] == "ERROR :Closing Link: * (too many failed passwords)"
        rtt.assert_served()
        text = "\n".join(r.getMessage() for r in caplog.records)
        assert "guess-" not in text and "wrong password for account 'alice'" in text
        await b.close()
        await owner.close()


def scram_client_final(password: str, client_first_bare: str, server_first: str) -> tuple[str, bytes]:
    """RFC 5802 section 3, the client's side, written out independently of core/accounts.py."""
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    expected = hmac.new(server_key, auth_message, "sha256").digest()
    return f"{without_proof},p={b64(proof)}", expected


@pytest.mark.parametrize("password", [PASSWORD, "wrong-password"])
async def test_sasl_scram_sha_256_hand_written_exchange(password: str) -> None:
    async with serving() as srv:
        owner = await registered(srv, "user")
        c = await irc_conn(srv)
        await sasl_start(c, "u2", "SCRAM-SHA-256")
        bare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
        await c.send("AUTHENTICATE " + b64("n,," + bare))
        server_first = base64.b64decode((await c.expect_cmd("AUTHENTICATE")).split(" ", 1)[1]).decode()
        assert server_first.startswith("r=rOprNGfwEbeRWgbNEkqO") and ",i=4096" in server_first
        final, signature = scram_client_final(password, bare, server_first)
        await c.send("AUTHENTICATE " + b64(final))
        if password != PASSWORD:
            assert await c.line() == f":{SRC} 904 * :SASL authentication failed"
        else:
            server_final = base64.b64decode((await c.expect_cmd("AUTHENTICATE")).split(" ", 1)[1]).decode()
            assert server_final == "v=" + b64(signature)  # the server knows the password too
            await c.send("AUTHENTICATE +")
            assert await c.line() == f":{SRC} 900 * *!~u2@chinwag user :You are now logged in as user"
            assert await c.line() == f":{SRC} 903 * :SASL authentication successful"
        await c.close()
        await owner.close()


async def test_sasl_unknown_mechanism_abort_and_overlong() -> None:
    async with serving() as srv:
        c = await irc_conn(srv)
        await c.send("CAP REQ :sasl", "AUTHENTICATE EXTERNAL")
        await c.expect_cmd("CAP")
        assert await c.line() == f":{SRC} 908 * PLAIN,SCRAM-SHA-256 :are available SASL mechanisms"
        assert await c.line() == f":{SRC} 904 * :SASL authentication failed"
        await c.send("AUTHENTICATE PLAIN", "AUTHENTICATE *")
        assert await c.line() == "AUTHENTICATE +"
        assert await c.line() == f":{SRC} 906 * :SASL authentication aborted"
        await c.send("AUTHENTICATE PLAIN", "AUTHENTICATE " + "A" * 401)
        assert await c.line() == "AUTHENTICATE +"
        assert await c.line() == f":{SRC} 905 * :SASL message too long"
        await c.close()


async def test_pass_account_password_and_account_notify() -> None:
    # (two users of one account, each with its own nick: multiclient off)
    async with serving_config(dataclasses.replace(make_config(), multiclient=False)) as srv:
        owner = await registered(srv, "alice")
        watcher = await irc_conn(srv)
        await watcher.register("watcher", caps=("account-notify",))
        await watcher.send("JOIN #lobby")
        await watcher.expect_cmd("366")
        c = await irc_conn(srv)
        await c.send(f"PASS alice:{PASSWORD}", "NICK al", "USER al 0 * :al")
        await c.expect_cmd("001")
        assert await c.expect_cmd("900") == f":{SRC} 900 al al!~al@chinwag alice :You are now logged in as alice"
        await c.send("JOIN #lobby")
        await c.expect_cmd("366")
        await c.send("PRIVMSG NickServ :LOGOUT")
        assert await c.expect_cmd("901") == f":{SRC} 901 al al!~al@chinwag :You are now logged out"
        assert await watcher.expect_cmd("ACCOUNT") == ":al!~al@chinwag ACCOUNT *"
        await c.close()
        await watcher.close()
        await owner.close()


async def test_nickserv_register_and_identify() -> None:
    async with serving() as srv:
        c = await irc_conn(srv)
        await c.register("zoe")
        await c.send(f"PRIVMSG NickServ :REGISTER {PASSWORD} zoe@example.org")
        assert await c.expect_cmd("NOTICE") == (
            ":NickServ!NickServ@services NOTICE zoe :Account zoe registered; you are now identified for zoe"
        )
        d = await irc_conn(srv)
        await d.register("phone")
        await d.send("PRIVMSG NickServ :IDENTIFY zoe wrong-password")
        assert (await d.expect_cmd("NOTICE")).startswith(
            ":NickServ!NickServ@services NOTICE phone :Invalid account name or password (next try in"
        )
        await d.send(f"PRIVMSG NickServ :IDENTIFY zoe {PASSWORD}")
        identified = await d.expect_cmd("NOTICE")
        assert identified == ":NickServ!NickServ@services NOTICE phone :You are now identified for zoe"
        await d.send("PRIVMSG NickServ :HELP")
        assert (await d.expect_cmd("NOTICE")).endswith(":NickServ commands (or use SASL):")
        await c.close()
        await d.close()


EVER = "timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z"
HISTORY_CAPS = ("batch", "server-time", "message-tags", "draft/chathistory", "sasl")


async def nickserv_register(srv: Server, nick: str) -> IrcClient:
    c = await irc_conn(srv)
    await c.register(nick, HISTORY_CAPS)
    await c.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
    assert " 900 " in await c.expect_cmd("900")
    return c


async def test_private_history_follows_the_account_to_a_second_device_and_not_the_nick() -> None:
    async with serving() as srv:
        alice = await nickserv_register(srv, "alice")
        bob = await nickserv_register(srv, "bob")
        await alice.send("PRIVMSG bob :secret one")
        await bob.expect_cmd("PRIVMSG")
        await bob.send("PRIVMSG alice :secret two")
        await alice.expect_cmd("PRIVMSG")
        await alice.close()
        await bob.close()
        b = await Bystander.join(srv.port("irc"))
        b.start()
        # The nick-reclaim attack: take "bob" the moment he is gone, ask for his talk with alice.
        mallory = await irc_conn(srv)
        await mallory.register("bob", HISTORY_CAPS)
        _, stolen = await batch(mallory, "CHATHISTORY LATEST alice * 10")
        await mallory.send("PRIVMSG NickServ :IDENTIFY bob not-his-password")
        assert "Invalid account name or password" in await mallory.expect_cmd("NOTICE")
        _, stolen_after = await batch(mallory, "CHATHISTORY LATEST alice * 10")
        # Bob's phone: another nick, logged in to bob with SASL; alice is offline.
        phone = await irc_conn(srv)
        await phone.send("CAP LS 302", "NICK bobphone", "USER bob 0 * :bob",
                         f"CAP REQ :{' '.join(HISTORY_CAPS)}", "AUTHENTICATE PLAIN")
        await phone.expect_cmd("AUTHENTICATE")
        await phone.send("AUTHENTICATE " + b64(f"\0bob\0{PASSWORD}"))
        await phone.expect_cmd("903")
        await phone.send("CAP END")
        await phone.expect_cmd("001")
        _, mine = await batch(phone, "CHATHISTORY LATEST alice * 10")
        _, listed = await batch(phone, f"CHATHISTORY TARGETS {EVER} 10")
        _, listed_for_mallory = await batch(mallory, f"CHATHISTORY TARGETS {EVER} 10")
        rtt = await b.stop()
        assert [line.rsplit(" ", 1)[0] for line in listed] == [":chinwag CHATHISTORY TARGETS alice"]
        assert listed_for_mallory == []
        assert stolen == [] and stolen_after == []
        assert [line.split(" ", 1)[1] for line in mine] == [
            ":alice!~alice@chinwag PRIVMSG bob :secret one", ":bob!~bob@chinwag PRIVMSG alice :secret two"]
        rtt.assert_served()
        await b.close()
        await mallory.close()
        await phone.close()


async def test_account_tag_and_extended_join() -> None:
    async with serving() as srv:
        watcher = await irc_conn(srv)
        await watcher.register("watcher", caps=("account-tag", "extended-join"))
        await watcher.send("JOIN #dev")
        await watcher.expect_cmd("366")
        alice = await irc_conn(srv)
        await alice.register("alice")
        await alice.send(f"PRIVMSG NickServ :REGISTER {PASSWORD}")
        await alice.expect_cmd("900")
        await alice.send("JOIN #dev", "PRIVMSG #dev :signed")
        assert await watcher.expect_cmd("JOIN") == ":alice!~alice@chinwag JOIN #dev alice :alice real"
        assert await watcher.expect_cmd("PRIVMSG") == "@account=alice :alice!~alice@chinwag PRIVMSG #dev :signed"
        guest = await irc_conn(srv)
        await guest.register("guest")
        await guest.send("JOIN #dev", "PRIVMSG #dev :anonymous")
        assert await watcher.expect_cmd("JOIN") == ":guest!~guest@chinwag JOIN #dev * :guest real"
        assert await watcher.expect_cmd("PRIVMSG") == ":guest!~guest@chinwag PRIVMSG #dev :anonymous"
        for c in (watcher, alice, guest):
            await c.close()


async def test_draft_account_registration_register_and_verify() -> None:
    async with serving() as srv:
        early = await irc_conn(srv)
        await early.send(f"REGISTER * * {PASSWORD}")
        assert await early.line() == (
            f":{SRC} FAIL REGISTER COMPLETE_CONNECTION_REQUIRED * :Finish connecting before registering")
        await early.close()
        c = await irc_conn(srv)
        await c.register("zoe", caps=("draft/account-registration",))
        await c.send(f"REGISTER someone-else * {PASSWORD}")
        assert await c.line() == (
            f":{SRC} FAIL REGISTER BAD_ACCOUNT_NAME someone-else :You can only register the nick you are using")
        await c.send("REGISTER * * short")
        assert await c.line() == f":{SRC} FAIL REGISTER WEAK_PASSWORD zoe :a password must have 8 to 256 characters"
        await c.send(f"REGISTER * zoe@example.org {PASSWORD}")
        assert await c.line() == f":{SRC} 900 zoe zoe!~zoe@chinwag zoe :You are now logged in as zoe"
        assert await c.line() == f":{SRC} REGISTER SUCCESS zoe :Account created"
        await c.send("VERIFY zoe 1234")
        assert await c.line() == f":{SRC} FAIL VERIFY INVALID_CODE zoe :No verification is pending"
        other = await irc_conn(srv)
        await other.register("ZOE2")
        await other.send("NICK Zoe")  # (zoe is online: taken)
        await other.expect_cmd("433")
        await c.close()
        await other.send("NICK Zoe")
        await other.expect_cmd("NICK")
        # (a registered nick: nick protection warns, core/handlers/users.py)
        assert await other.line() == (
            ":NickServ!NickServ@services NOTICE Zoe :This nickname is registered. Log in within 60 seconds or"
            " you will be renamed (/msg NickServ IDENTIFY Zoe <password>)")
        await other.send(f"REGISTER * * {PASSWORD}")
        assert await other.line() == (
            f":{SRC} FAIL REGISTER ACCOUNT_EXISTS Zoe :an account with that name already exists")
        await other.close()
