"""Loaded by Python at start-up when this folder is on PYTHONPATH (tests/test_offline.py): every
attempt to reach another machine (a DNS lookup of a name that is not local, a connection to an
address that is not loopback) is written to $RAG_NETWORK_GUARD_LOG and refused."""

import os
import socket

_LOG = os.environ.get("RAG_NETWORK_GUARD_LOG", "")
_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "", None}


def _record(what: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")


def _local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    return host in _LOCAL_NAMES or str(host).startswith("127.")


_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def _guarded(real):
    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            _record(f"connect {address!r}")
            raise OSError(f"network access refused by the test's guard: {address!r}")
        return real(self, address)

    return connect


def getaddrinfo(host, *args, **kwargs):
    if not _local(host):
        _record(f"getaddrinfo {host!r}")
        raise socket.gaierror(f"network access refused by the test's guard: {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded(_connect)
socket.socket.connect_ex = _guarded(_connect_ex)
socket.getaddrinfo = getaddrinfo
