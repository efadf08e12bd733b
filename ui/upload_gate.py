"""Only a signed-in maintainer's session may make the server hold uploaded bytes.

Streamlit (1.67) takes an upload for any live session: `PUT /_stcore/upload_file/<session>/<file id>`
with the session's XSRF token is read and kept in the session's memory whatever the file id, whether
or not the page shows a file uploader (the id is not checked against any widget). Hiding the uploader
from visitors therefore did not stop one from making the server hold 8 x 40 MB.

`install()` puts two checks on the running server's objects, once per process:

- `Runtime.is_active_session`, which the upload route asks before it reads a byte of the body (and
  which nothing else in Streamlit 1.67 calls), answers False for a session that is not a signed-in
  maintainer's: the PUT is refused with 400 and its body is never read;
- `uploaded_file_mgr.add_file` refuses (403) to keep a file for such a session, should another
  Streamlit version reach it by another road.

The Index page calls `allow()` on each run of a signed-in maintainer's session and `revoke()` at
sign-out, which also drops any file the session still holds. Under streamlit.testing there is no
server: `install()` does nothing.
"""

from __future__ import annotations

import threading

_ALLOWED: set[str] = set()
_LOCK = threading.Lock()
_INSTALLED: list[object] = []  # the runtime the checks were put on


def _allowed(session_id: str) -> bool:
    with _LOCK:
        return session_id in _ALLOWED


def install() -> bool:
    """Put the checks on this process's Streamlit server (idempotent); False when there is none."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return False
    runtime = Runtime.instance()
    with _LOCK:
        if any(r is runtime for r in _INSTALLED):
            return True
        is_active = runtime.is_active_session
        runtime.is_active_session = lambda session_id: _allowed(session_id) and is_active(session_id)  # type: ignore[method-assign]
        manager = runtime.uploaded_file_mgr
        add_file = manager.add_file

        def guarded_add_file(session_id, file, *args, **kwargs):
            if not _allowed(session_id):
                from starlette.exceptions import HTTPException

                raise HTTPException(status_code=403, detail="Uploads are for signed-in maintainers only")
            return add_file(session_id, file, *args, **kwargs)

        manager.add_file = guarded_add_file  # type: ignore[method-assign]
        _INSTALLED.append(runtime)
    return True


def _session_id() -> str | None:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def allow() -> None:
    """This session is a signed-in maintainer's: it may upload."""
    session_id = _session_id()
    if session_id:
        with _LOCK:
            _ALLOWED.add(session_id)


def revoke() -> None:
    """This session signed out: no more uploads, and the files it holds are dropped."""
    session_id = _session_id()
    if not session_id:
        return
    with _LOCK:
        _ALLOWED.discard(session_id)
    from streamlit.runtime import Runtime

    if Runtime.exists():
        Runtime.instance().uploaded_file_mgr.remove_session_files(session_id)
