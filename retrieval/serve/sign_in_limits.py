"""Limits on wrong maintainer passwords that outlast a browser session: per client address and for
the whole server, each closing sign-in for a fixed time once reached.

A session's own count (`maintainers.SignIn`) is lost on a reload, so on its own it let anyone guess
five times per tab. These counts are kept per process (every session of the app shares them):

- one client address may give `ADDRESS_ATTEMPTS` wrong passwords within `WINDOW_S`; then sign-in is
  closed for that address for `LOCK_S`;
- all addresses together may give `SERVER_ATTEMPTS` wrong passwords within `WINDOW_S` (guesses spread
  over many addresses); then sign-in is closed for everyone for `LOCK_S`.

A lock-out ends after `LOCK_S` whatever is tried meanwhile: attempts while it lasts are refused
before the password is checked (no scrypt run) and are not counted, so they do not lengthen it, and
a maintainer can sign in once it is over. A success clears its address's count, and marks the
address as a maintainer's for `TRUST_S`: guesses spread over other addresses, which close sign-in for
everyone, do not close it there, so a maintainer need not wait out a lock-out that an attacker can
start again every `LOCK_S`. Each guess that is
checked costs a 32 MiB scrypt run, so these limits also cap what guessing costs the server.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

#: wrong passwords one client address may give within WINDOW_S
ADDRESS_ATTEMPTS = 5
#: wrong passwords all addresses together may give within WINDOW_S
SERVER_ATTEMPTS = 20
#: the window the counts are kept over, and how long a reached limit closes sign-in (seconds)
WINDOW_S = 15 * 60
LOCK_S = 15 * 60
#: how long an address a maintainer signed in from is exempt from the lock-out for everyone (seconds)
TRUST_S = 30 * 24 * 3600
#: addresses remembered at most (the oldest are forgotten first): bounded memory under a spray
MAX_ADDRESSES = 10_000


@dataclass(frozen=True)
class LimitHit:
    """A limit just reached: which, and until when sign-in is closed (epoch seconds)."""

    scope: str  # "address" or "server"
    address: str
    failures: int
    until: float

    def describe(self) -> str:
        until = time.strftime("%H:%M UTC", time.gmtime(self.until))
        if self.scope == "address":
            return f"{self.failures} wrong passwords from address {self.address} within {WINDOW_S // 60} minutes: sign-in closed for it until {until}"
        return f"{self.failures} wrong passwords from all addresses within {WINDOW_S // 60} minutes: sign-in closed for everyone until {until}"


class SignInLimits:
    """Wrong-password counts per client address and for the server, shared by all sessions."""

    def __init__(self, address_attempts: int = ADDRESS_ATTEMPTS, server_attempts: int = SERVER_ATTEMPTS,
                 window_s: float = WINDOW_S, lock_s: float = LOCK_S, trust_s: float = TRUST_S, clock=time.time) -> None:
        self.address_attempts, self.server_attempts = address_attempts, server_attempts
        self.window_s, self.lock_s, self.trust_s, self.clock = window_s, lock_s, trust_s, clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._failures: dict[str, deque[float]] = {}
            self._server: deque[float] = deque()
            self._closed: dict[str, float] = {}  # address -> end of its lock-out
            self._server_closed = 0.0
            self._trusted: dict[str, float] = {}  # address -> when a maintainer last signed in from it

    def _prune(self, now: float) -> None:
        cutoff = now - self.window_s
        while self._server and self._server[0] <= cutoff:
            self._server.popleft()
        for address in [a for a, times in self._failures.items() if not times or times[-1] <= cutoff]:
            del self._failures[address]
        for address in [a for a, end in self._closed.items() if end <= now]:
            del self._closed[address]

    def closed(self, address: str) -> str | None:
        """Why sign-in is closed for this address now, or None when it may try."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            trusted = self._trusted.get(address, -self.trust_s) > now - self.trust_s
            if self._server_closed > now and not trusted:
                return (f"Too many wrong passwords on this server: sign-in is closed for everyone for "
                        f"{_minutes(self._server_closed - now)}.")
            if address in self._closed:
                return (f"Too many wrong passwords from your address: sign-in is closed here for "
                        f"{_minutes(self._closed[address] - now)}.")
        return None

    def failed(self, address: str) -> LimitHit | None:
        """Count a wrong password; the limit it made reach (sign-in now closed), else None."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            times = self._failures.setdefault(address, deque())
            times.append(now)
            while len(self._failures) > MAX_ADDRESSES:
                del self._failures[next(iter(self._failures))]
            self._server.append(now)
            if len(self._server) >= self.server_attempts:
                self._server_closed = now + self.lock_s
                count = len(self._server)
                self._server.clear()
                self._failures.clear()
                return LimitHit("server", address, count, self._server_closed)
            if len(times) >= self.address_attempts:
                self._closed[address] = now + self.lock_s
                del self._failures[address]
                return LimitHit("address", address, len(times), self._closed[address])
        return None

    def recent_failures(self, address: str) -> int:
        """Wrong passwords from this address within the window (for the growing wait)."""
        with self._lock:
            self._prune(self.clock())
            return len(self._failures.get(address, ()))

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
            self._trusted[address] = self.clock()
            while len(self._trusted) > MAX_ADDRESSES:
                del self._trusted[next(iter(self._trusted))]


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} more minute{'s' if minutes != 1 else ''}"


#: the process's limits, shared by every session of the app
LIMITS = SignInLimits()
