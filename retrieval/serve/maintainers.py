"""Who may change the corpus: a maintainer password (stored only as a scrypt hash), sign-in
attempts slowed and limited per session, per client address and for the whole server
(retrieval.serve.sign_in_limits), and an append-only audit log of every change.

`RAG_MAINTAINER_PASSWORD_HASH` holds the hash (`python -m retrieval hash-password` prints one).
Without it nobody can upload, remove or rebuild from the app: the Index page is read-only. The
password itself is never stored or logged; the audit log records the time, the maintainer's name
as they gave it, the action, the file and its sha256, and the outcome.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from retrieval.serve.sign_in_limits import LIMITS, SignInLimits

#: scrypt cost: 2**15 blocks of 8 x 128 bytes (32 MiB, about 0.1 s here): slow to guess, quick to check once
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
#: salt and digest lengths `hash_password` writes; a stored hash with less is refused
SALT_BYTES, DIGEST_BYTES = 16, 32
#: after this many wrong passwords a session can no longer try
MAX_ATTEMPTS = 5
#: a wrong password waits this long, doubled at each further one (seconds)
FIRST_DELAY_S = 1.0
AUDIT_FILE = "audit.jsonl"


class PasswordHashError(ValueError):
    """A maintainer password hash that is not one this module makes."""


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` (salt and hash in URL-safe base64)."""
    if not password:
        raise ValueError("the password is empty")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, DIGEST_BYTES)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Whether a password matches a stored hash; compared in constant time. A hash weaker than the
    ones `hash_password` makes (a lower cost, a shorter salt or digest: a truncated or hand-made
    hash) is refused, never checked: a 1-byte digest would let one password in 256 through."""
    try:
        scheme, n, r, p, salt, digest = stored.strip().split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        n, r, p = int(n), int(r), int(p)
        salt, expected = base64.urlsafe_b64decode(salt), base64.urlsafe_b64decode(digest)
    except (ValueError, TypeError) as exc:
        raise PasswordHashError(
            "RAG_MAINTAINER_PASSWORD_HASH is not a hash made by `python -m retrieval hash-password`. It holds $ signs: "
            "in a shell, put it in single quotes (RAG_MAINTAINER_PASSWORD_HASH='scrypt$...'), else the shell reads "
            "its $ fields as variables and drops them") from exc
    if n < SCRYPT_N or r < SCRYPT_R or p < SCRYPT_P or len(salt) < SALT_BYTES or len(expected) < DIGEST_BYTES:
        raise PasswordHashError(
            f"RAG_MAINTAINER_PASSWORD_HASH is weaker than `python -m retrieval hash-password` makes (N={n}, r={r}, p={p}, "
            f"a {len(salt)}-byte salt, a {len(expected)}-byte digest; it makes N={SCRYPT_N}, r={SCRYPT_R}, p={SCRYPT_P}, "
            f"a {SALT_BYTES}-byte salt, a {DIGEST_BYTES}-byte digest): truncated? make a new one with it")
    try:
        got = _scrypt(password, salt, n, r, p, len(expected))
    except (ValueError, TypeError, MemoryError) as exc:
        raise PasswordHashError("RAG_MAINTAINER_PASSWORD_HASH is not a hash made by `python -m retrieval hash-password`") from exc
    return hmac.compare_digest(got, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int = 32) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=length)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


@dataclass
class SignIn:
    """One browser session's sign-in state: who is signed in, and its wrong attempts."""

    name: str = ""
    failures: int = 0

    @property
    def signed_in(self) -> bool:
        return bool(self.name)

    @property
    def locked(self) -> bool:
        return self.failures >= MAX_ATTEMPTS

    def attempt(self, name: str, password: str, stored: str, sleep=time.sleep, address: str = "",
                limits: SignInLimits | None = None, data_dir: Path | None = None) -> str | None:
        """Sign in; None on success, else the one-line reason. A wrong password waits before
        answering (longer at each, counted per session and per client `address`); after
        MAX_ATTEMPTS the session may not try again, and the limits per address and for the server
        (`limits`, the process's by default) close sign-in for a while, which goes to the audit log
        under `data_dir`."""
        limits = LIMITS if limits is None else limits
        address = address or "unknown"
        name = " ".join(name.split())[:80]
        if self.locked:
            return f"Too many wrong passwords ({MAX_ATTEMPTS}) in this session: sign-in is closed here."
        if not name:
            return "Give your name: it goes into the audit log with each change you make."
        if not stored:
            return "No maintainer password is configured: the Index page is read-only."
        closed = limits.closed(address)
        if closed:
            return closed
        if verify_password(password, stored):
            limits.succeeded(address)
            self.name = name
            return None
        sleep(FIRST_DELAY_S * 2 ** min(4, max(self.failures, limits.recent_failures(address))))
        self.failures += 1
        hit = limits.failed(address)
        if hit is not None:
            if data_dir is not None:
                audit(data_dir, name, "sign-in closed", hit.describe())
            return "Wrong password. " + (limits.closed(address) or "Sign-in is now closed for a while.")
        left = MAX_ATTEMPTS - self.failures
        return "Wrong password." + (f" {left} more tries in this session." if left else " Sign-in is now closed in this session.")


_AUDIT_LOCK = threading.Lock()


def audit(data_dir: Path, who: str, action: str, outcome: str, file: str = "", sha256: str = "") -> dict:
    """Append one change to the audit log (a JSON line, flushed to disk) and return it."""
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "who": who, "action": action,
             "file": file, "sha256": sha256, "outcome": outcome}
    path = Path(data_dir) / AUDIT_FILE
    with _AUDIT_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    return entry


def audit_entries(data_dir: Path, last: int = 200) -> list[dict]:
    """The last entries of the audit log, newest first (a damaged line is skipped, not fatal)."""
    path = Path(data_dir) / AUDIT_FILE
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[-last:]:
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows[::-1]
