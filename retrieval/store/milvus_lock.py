"""The build lock of the index in Milvus: one build at a time, on any machine.

The lock is a collection, `<prefix>_build_lock`, that exists while a build runs (creating it fails
when it exists) and holds one row naming its holder (pid, host, start time). A lock left by a build
that died is taken over: on Milvus Lite embedded, any lock no build of this process holds (only one
process at a time can open its data folder, and it is this one); on a server, a lock whose holder
ran on this machine and is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path

from retrieval.store import index as index_files

LOCK_SUFFIX = "_build_lock"
#: the build locks held by builds of this process, (uri, lock collection): another build here waits
#: its turn rather than taking the lock over
_HELD_HERE: set[tuple[str, str]] = set()
_ACQUIRING = threading.Lock()


@contextlib.contextmanager
def build_lock(location):
    """Hold the build lock of a MilvusLocation for the block; raises index.BuildLocked when another
    build holds it (a build of this process included)."""
    name = location.prefix + LOCK_SUFFIX
    held = (str(Path(location.uri).resolve()) if location.is_lite else location.uri, name)
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    with _ACQUIRING:  # two threads of this process never both take it, nor one take over the other's
        for attempt in range(2):
            if held not in _HELD_HERE and _try_create_lock(location, name, holder):
                break
            other = _lock_holder(location, name)
            if attempt == 0 and held not in _HELD_HERE and _lock_is_stale(location, other, holder):
                location.call("drop a stale build lock", location.client.drop_collection, name)
                continue
            who = f"pid {other.get('pid')} on {other.get('host')}, since {other.get('started')}" if other else "another process"
            raise index_files.BuildLocked(f"another build is already running on {location.describe()} ({who}); wait for it to finish")
        _HELD_HERE.add(held)
    try:
        yield
    finally:
        _HELD_HERE.discard(held)
        with contextlib.suppress(Exception):
            location.client.drop_collection(name)


def _lock_is_stale(location, other: dict | None, me: dict) -> bool:
    """Whether a build lock no build of this process holds was left by a build that died. Milvus
    Lite embedded lets one process at a time open its data folder, and that process is this one:
    any such lock is stale, whether its holder can be read or not. On a server, a lock is stale
    when its holder ran on this machine and its process is gone."""
    if location.is_lite:
        return True
    return other is not None and other.get("host") == me["host"] and not _pid_alive(int(other.get("pid", 0)))


def _try_create_lock(location, name: str, holder: dict) -> bool:
    from pymilvus import DataType

    client = location.client
    if location.call("check the build lock", client.has_collection, name):
        return False
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("value", DataType.VARCHAR, max_length=4096)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    params = client.prepare_index_params()
    params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    try:
        client.create_collection(name, schema=schema, index_params=params)
    except Exception:
        return False  # another build created it first
    location.call("record the build lock's holder", client.insert, name, [{"key": "holder", "value": json.dumps(holder), "vector": [0.0, 0.0]}])
    return True


def _lock_holder(location, name: str) -> dict | None:
    """Who holds the lock (pid, host, started), or None when it cannot be read. The collection is
    loaded first: after Milvus Lite or a server restarts (a killed build, a reboot) it is in state
    'released', and a query of it fails."""
    with contextlib.suppress(Exception):
        location.client.load_collection(name)
        rows = location.client.query(name, filter='key == "holder"', output_fields=["value"], limit=1)
        return json.loads(rows[0]["value"]) if rows else None
    return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
