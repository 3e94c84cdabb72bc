"""Account crypto: SCRAM-SHA-256 against RFC 7677's test vector, argon2id verification."""

from __future__ import annotations

import base64

import pytest

from chinwag.core.accounts import (
    HashParams,
    ScramError,
    ScramServer,
    make_secrets,
    scram_credentials,
    verify_password,
)

# RFC 7677 section 3: user "user", password "pencil".
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
FAST = HashParams(time_cost=1, memory_kib=1024, scram_iterations=16)


def test_rfc7677_exchange_is_reproduced_exactly() -> None:
    server = ScramServer()
    assert server.client_first(CLIENT_FIRST) == "user"
    assert server.server_first(scram_credentials("pencil", SALT, 4096), SERVER_NONCE) == SERVER_FIRST
    assert server.client_final(CLIENT_FINAL) == SERVER_FINAL


def test_rfc7677_proof_with_the_wrong_password_fails() -> None:
    server = ScramServer()
    server.client_first(CLIENT_FIRST)
    server.server_first(scram_credentials("pencil!", SALT, 4096), SERVER_NONCE)
    with pytest.raises(ScramError):
        server.client_final(CLIENT_FINAL)


def test_an_unknown_account_gets_an_exchange_that_always_fails() -> None:
    server = ScramServer()
    server.client_first(CLIENT_FIRST)
    first = server.server_first(None, SERVER_NONCE)
    assert first.startswith("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=") and first.endswith(",i=4096")
    with pytest.raises(ScramError):
        server.client_final(CLIENT_FINAL)


@pytest.mark.parametrize(
    "client_first",
    ["", "p=tls-unique,,n=user,r=x", "n,,r=abc", "n,,n=user", "n,n=user,r=x", "n,,n=us=er,r=x", "n,,m=ext,n=u,r=x"],
)
def test_malformed_client_first_is_refused(client_first: str) -> None:
    with pytest.raises(ScramError):
        ScramServer().client_first(client_first)


@pytest.mark.parametrize(
    "client_final",
    [
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",  # nonce without ours
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    ],
)
def test_malformed_or_wrong_client_final_is_refused(client_final: str) -> None:
    server = ScramServer()
    server.client_first(CLIENT_FIRST)
    server.server_first(scram_credentials("pencil", SALT, 4096), SERVER_NONCE)
    with pytest.raises(ScramError):
        server.client_final(client_final)


def test_escaped_user_names_are_unescaped() -> None:
    assert ScramServer().client_first("n,,n=a=2Cb=3Dc,r=x") == "a,b=c"


def test_argon2id_hash_verifies_only_its_password() -> None:
    secrets = make_secrets("pencil", FAST)
    assert secrets.password_hash.startswith("$argon2id$")
    assert verify_password(secrets.password_hash, "pencil", FAST)
    assert not verify_password(secrets.password_hash, "pencil ", FAST)
    assert not verify_password("not a hash", "pencil", FAST)


def test_no_such_account_never_verifies() -> None:
    assert not verify_password(None, "", FAST)
    assert not verify_password(None, "pencil", FAST)


def test_scram_credentials_from_make_secrets_log_in() -> None:
    secrets = make_secrets("pencil", FAST)
    server = ScramServer()
    server.client_first(CLIENT_FIRST)
    server.server_first(secrets.scram, SERVER_NONCE)
    with pytest.raises(ScramError):  # the RFC's proof was made with another salt
        server.client_final(CLIENT_FINAL)
