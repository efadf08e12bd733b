"""Maintainer passwords (scrypt), sign-in limits per session, and the audit log."""

from __future__ import annotations

import io

import pytest

from retrieval.maintainers import MAX_ATTEMPTS, PasswordHashError, SignIn, audit, audit_entries, hash_password, verify_password


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password("a long enough secret")


def test_a_hash_verifies_its_password_only(stored):
    assert stored.startswith("scrypt$") and "a long enough secret" not in stored
    assert verify_password("a long enough secret", stored)
    assert not verify_password("a long enough secreT", stored)
    assert hash_password("a long enough secret") != stored  # salted
    with pytest.raises(PasswordHashError):
        verify_password("x", "plain-text-password")


def test_wrong_passwords_wait_longer_each_time_and_then_close_sign_in(stored):
    waits = []
    session = SignIn()
    for _ in range(MAX_ATTEMPTS):
        assert "Wrong password" in session.attempt("Ada", "guess", stored, sleep=waits.append)
    assert waits == sorted(waits) and waits[-1] > waits[0] > 0
    assert session.locked and "Too many wrong passwords" in session.attempt("Ada", "a long enough secret", stored, sleep=waits.append)
    assert not session.signed_in


def test_sign_in_needs_a_name_and_a_configured_password(stored):
    assert "name" in SignIn().attempt("  ", "a long enough secret", stored)
    assert "read-only" in SignIn().attempt("Ada", "a long enough secret", "")
    session = SignIn()
    assert session.attempt(" Ada  Lovelace ", "a long enough secret", stored) is None and session.name == "Ada Lovelace"


def test_the_audit_log_appends_and_reads_newest_first(tmp_path):
    audit(tmp_path, "Ada", "upload", "saved as a.md", "a.md", "ab" * 32)
    audit(tmp_path, "Ada", "rebuild", "started")
    (tmp_path / "audit.jsonl").open("a").write("not json\n")
    rows = audit_entries(tmp_path)
    assert [r["action"] for r in rows] == ["rebuild", "upload"] and rows[1]["sha256"] == "ab" * 32
    assert audit_entries(tmp_path / "none") == []


def test_cli_prints_a_hash_for_the_environment(monkeypatch, capsys):
    from retrieval.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["hash-password", "--stdin"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_password("correct horse battery", printed)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["hash-password", "--stdin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err


def _weak_hash(password: str, n: int = 2**15, r: int = 8, p: int = 1, salt_bytes: int = 16, digest_bytes: int = 32) -> str:
    import base64
    import hashlib

    salt = b"s" * salt_bytes
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=digest_bytes)
    return "$".join(["scrypt", str(n), str(r), str(p), base64.urlsafe_b64encode(salt).decode(), base64.urlsafe_b64encode(digest).decode()])


@pytest.mark.parametrize("weakness", [dict(digest_bytes=1), dict(n=2), dict(r=1), dict(salt_bytes=2)])
def test_a_truncated_or_weak_hash_is_refused_with_one_line(stored, weakness):
    """Issue 29, item 8: a 1-byte digest (one password in 256 gets in) or N=2 was accepted. A hash
    below what hash-password writes is refused for every password, the right one included."""
    weak = _weak_hash("a long enough secret", **weakness)
    for password in ("a long enough secret", "anything else"):
        with pytest.raises(PasswordHashError) as caught:
            verify_password(password, weak)
        message = str(caught.value)
        assert "weaker than `python -m retrieval hash-password` makes" in message and "\n" not in message
    session = SignIn()
    with pytest.raises(PasswordHashError):
        session.attempt("Ada", "a long enough secret", weak)
    assert not session.signed_in
    # the same construction at full strength is accepted: the test refuses weakness, not the format
    assert verify_password("a long enough secret", _weak_hash("a long enough secret"))
    # a digest cut short in the environment (a shell ate its end) is refused too
    with pytest.raises(PasswordHashError, match="weaker"):
        verify_password("a long enough secret", stored[:-40])
