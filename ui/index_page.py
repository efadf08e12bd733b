"""The Index page: the documents and their status for everyone; upload (with a description),
removal and restoring, rebuild and evaluation for a signed-in maintainer; the audit log."""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import streamlit as st

from retrieval import CatalogueError, UploadError, set_catalogue_entry
from retrieval.build.journal import pending_vectors
from retrieval.serve.maintainers import PasswordHashError, SignIn, audit, audit_entries
from retrieval.serve.markdown_text import inert_markdown
from retrieval.text.digest import file_sha256
from ui import upload_gate
from ui.jobs import job_panel

ss = st.session_state
DESCRIPTION_KEYS = ("meta_title", "meta_short_title", "meta_author", "meta_year", "meta_aliases")


def page_index(engine, settings, index) -> None:
    """The documents and their status, the maintainers' sign-in and tools, and the audit log."""
    st.title("Index")
    if index is not None:
        m = index.manifest
        st.caption(f"Live version {index.version} · built {m.get('built_at', '?')} · {m.get('chunks', 0)} passages · model {m.get('model', '?')}")
    table = st.empty()  # drawn after this run's uploads are stored, so they show as "new"
    maintainer = maintainer_panel(settings)
    if maintainer:
        maintenance(engine, settings, index, maintainer)
    draw_documents(engine, table)
    log = audit_entries(settings.data_dir)
    with st.expander(f"Changes to the corpus ({len(log)})"):
        if log:
            st.dataframe(log, hide_index=True, width="stretch", column_order=("time", "who", "action", "file", "outcome", "sha256"))
        else:
            st.write("No uploads, removals or rebuilds made from the app yet.")


def maintainer_panel(settings) -> str:
    """The maintainers' sign-in; the name of the maintainer signed in this session, or ""."""
    stored = settings.maintainer_password_hash
    sign = ss.setdefault("signin", SignIn())
    if not stored:
        st.info("This page is read-only: no maintainer password is configured. To allow uploads and rebuilds here, set "
                "RAG_MAINTAINER_PASSWORD_HASH to the output of `python -m retrieval hash-password`.")
        return ""
    if sign.signed_in:
        upload_gate.allow()  # this session, and only such a one, may make the server hold uploaded bytes
        left, right = st.columns([4, 1])
        left.caption(f"Signed in as maintainer: {inert_markdown(sign.name)}. Every change is recorded in the audit log below.")
        if right.button("Sign out"):
            upload_gate.revoke()
            ss.signin = SignIn(failures=sign.failures)
            st.rerun()
        return sign.name
    with st.form("signin_form", clear_on_submit=True):
        st.write("Maintainers sign in to add documents, rebuild the index or run the evaluation.")
        name = st.text_input("Your name (recorded with each change)", key="signin_name")
        password = st.text_input("Maintainer password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in", disabled=sign.locked)
    if submitted:
        try:
            error = sign.attempt(name, password, stored, address=client_address(), data_dir=settings.data_dir)
        except PasswordHashError as exc:
            error = str(exc)
        if error is None:
            st.rerun()
        st.error(inert_markdown(error))
    return ""


def without_server_paths(message: str, settings) -> str:
    """An error message with no path of the server in it: the index, corpus and data folders by the
    setting that names them, any other absolute path by its last part."""
    named = {}
    for value, name in ((settings.index_dir, "$RAG_INDEX_DIR"), (settings.corpus_dir, "$RAG_CORPUS_DIR"), (settings.data_dir, "$RAG_DATA_DIR")):
        named[str(value)] = named[str(Path(value).resolve())] = name
    for path in sorted(named, key=len, reverse=True):
        if path.startswith("/"):
            message = message.replace(path, named[path])
    return _ABSOLUTE_PATH.sub(lambda m: Path(m.group()).name or "/", message)


_ABSOLUTE_PATH = re.compile(r"(?<![\w.$~/:])/[^\s'\"`,;:()<>]*")


def damaged_index(engine, settings, error: Exception) -> None:
    """An index that cannot be read: the reason without server paths; a signed-in maintainer may
    rebuild it from scratch (audited), nobody else."""
    st.error(inert_markdown(without_server_paths(str(error), settings)))
    maintainer = maintainer_panel(settings)
    running = engine.build_job is not None and engine.build_job.running
    if maintainer and st.button("Rebuild the index now (full)", disabled=running):
        engine.start_build(full=True)
        audit(settings.data_dir, maintainer, "rebuild (full)", "started: the index could not be read")
        st.rerun()
    job_panel(engine, "build", "Rebuild")


def client_address() -> str:
    """The client's IP address as the server saw it ("" on localhost, where Streamlit gives None;
    behind a proxy, the proxy's: every visitor then shares one address's limit)."""
    address = st.context.ip_address
    return address if isinstance(address, str) else ""


def draw_documents(engine, table) -> None:
    # a document without pages (Markdown, text) shows an empty cell, not "None"
    rows = [{**r, "pages": str(r["pages"]) if r.get("pages") else ""} for r in engine.document_rows()]
    table.dataframe(
        rows, hide_index=True, width="stretch",
        column_order=("status", "document", "reason", "year", "pages", "passages"),  # titles: in the sidebar
        # widths that add up to less than the wide page: no horizontal scrolling; long names and
        # reasons are cut with an ellipsis and shown whole on hover
        column_config={"pages": st.column_config.TextColumn(width="small"),
                       "passages": st.column_config.NumberColumn(format="%d", width="small"),
                       "year": st.column_config.TextColumn(width="small"), "status": st.column_config.TextColumn(width="small"),
                       "document": st.column_config.TextColumn(width="medium"), "reason": st.column_config.TextColumn(width="medium")},
    )


def remove_and_restore(engine, settings, maintainer: str) -> None:
    """Remove a document (kept, so it can be restored) or put a kept version back; both audited."""
    st.subheader("Remove or restore documents")
    names = [r["document"] for r in engine.document_rows() if r["status"] != "removed"]
    left, right = st.columns(2)
    with left:
        name = st.selectbox("Remove a document", names, index=None, placeholder="Choose a document", key="remove_choice")
        sure = st.checkbox("Yes, take it out of the corpus (a copy is kept and can be restored)", key="remove_sure", disabled=name is None)
        if st.button("Remove", disabled=not (name and sure)):
            try:
                kept = engine.remove_document(name)
                audit(settings.data_dir, maintainer, "remove", f"kept as {kept.name}", name, _sha256(kept))
                st.success(inert_markdown(f"{name} removed from the corpus folder (kept as {kept.name}). Rebuild to drop it from the index."))
            except UploadError as exc:
                audit(settings.data_dir, maintainer, "remove", f"refused: {exc}", name)
                st.error(inert_markdown(str(exc)))
    with right:
        kept = engine.kept_documents()
        labels = {r["kept"]: f"{r['document']} (sha256 {r['sha256']}…, {r['bytes']:,} bytes)" for r in kept}
        choice = st.selectbox("Restore a kept version", list(labels), index=None, format_func=labels.get,
                              placeholder="Replaced and removed documents", key="restore_choice")
        over = st.checkbox("Replace the current document of that name (it is kept too)", key="restore_over", disabled=choice is None)
        if st.button("Restore", disabled=choice is None):
            try:
                path = engine.restore_document(choice, replace=over)
                audit(settings.data_dir, maintainer, "restore", f"restored as {path.name}", choice, _sha256(path))
                st.success(inert_markdown(f"{path.name} restored. Rebuild the index to make it searchable."))
            except UploadError as exc:
                audit(settings.data_dir, maintainer, "restore", f"refused: {exc}", choice)
                st.error(inert_markdown(str(exc)))


def maintenance(engine, settings, index, maintainer: str) -> None:
    """Upload, rebuild and evaluation, for a signed-in maintainer; each change goes to the audit log."""
    st.subheader("Add documents")
    limit = settings.max_file_mb
    if ss.pop("clear_description", False):
        # set to "" before the fields are drawn: the browser shows them empty and sends "" back (a key
        # only deleted came back with the browser's old value, and the next file got the last title)
        for key in DESCRIPTION_KEYS:
            ss[key] = ""
    with st.expander("Describe what you upload (optional: shown with its answers and citations)"):
        left, right = st.columns(2)
        described = {
            "title": left.text_input("Title", key="meta_title", max_chars=300),
            "short_title": right.text_input("Short title", key="meta_short_title", max_chars=120),
            "author": left.text_input("Author or publisher", key="meta_author", max_chars=300),
            "year": right.text_input("Year", key="meta_year", max_chars=4, placeholder="e.g. 2024"),
            "aliases": st.text_input("Other names people use, separated by commas", key="meta_aliases", max_chars=300,
                                     placeholder="e.g. Dublin III, Dublin Regulation",
                                     help="A question that uses one of these names is searched in this document."),
        }
    files = st.file_uploader(f"PDF, Markdown or text, up to {limit:g} MB each; checked by content, stored under a safe name",
                             type=["pdf", "md", "markdown", "txt"], accept_multiple_files=True, key=f"uploads-{ss.get('uploader_round', 0)}",
                             max_upload_size=max(1, math.ceil(limit)))
    replace = st.checkbox("Replace a document that has the same name")
    messages = ss.setdefault("upload_messages", [])
    if described["year"].strip() and not re.fullmatch(r"\d{4}", described["year"].strip()):
        st.error("The year is four digits, e.g. 2024.")
        files = []
    for f in files or []:
        data = f.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        try:
            path = engine.save_upload(f.name, data, replace=replace)
            messages.append(("ok", f"{f.name}: saved as {path.name}. Rebuild the index to make it searchable."))
            audit(settings.data_dir, maintainer, "upload" + (" (replace)" if replace else ""), f"saved as {path.name}", f.name, digest)
            if any(v.strip() for v in described.values()):
                try:
                    set_catalogue_entry(settings.corpus_dir, path.name, described)
                    audit(settings.data_dir, maintainer, "describe", "catalogue.toml updated", path.name, digest)
                except CatalogueError as exc:
                    given = "; ".join(f"{key.replace('_', ' ')}: {value.strip()}" for key, value in described.items() if value.strip())
                    messages.append(("error", f"{path.name}: saved, but {exc} (it was {given})"))  # nothing typed is lost
                    audit(settings.data_dir, maintainer, "describe", f"refused: {exc}", path.name, digest)
        except UploadError as exc:
            messages.append(("error", f"{f.name}: {exc}"))
            audit(settings.data_dir, maintainer, "upload", f"refused: {exc}", f.name, digest)
    if files:
        # each file is handled once; the uploader starts empty again, refused files included, and the
        # description is cleared so that it is not given to the next upload by mistake
        ss.uploader_round = ss.get("uploader_round", 0) + 1
        ss.clear_description = True
        st.rerun()
    for kind, message in messages[-10:]:
        (st.success if kind == "ok" else st.error)(inert_markdown(message))

    remove_and_restore(engine, settings, maintainer)

    st.subheader("Rebuild")
    st.write("Reads new and changed documents, embeds only what changed, and switches the app to the new index when it is complete. "
             "Questions keep being answered from the current index meanwhile.")
    full = st.checkbox("Full rebuild (re-read and re-embed every document)")
    running = engine.build_job is not None and engine.build_job.running
    left = 0 if running else pending_vectors(settings.index_dir)
    if left:
        st.info(f"An interrupted build left {left:,} embedded passages and sentences: the next rebuild takes them instead of "
                "embedding them again (a full rebuild starts afresh).")
    if st.button("Rebuild the index", type="primary", disabled=running):
        action = "rebuild" + (" (full)" if full else "")
        engine.start_build(full=full, on_done=lambda job: audit(settings.data_dir, maintainer, action, build_outcome(job)))
        audit(settings.data_dir, maintainer, action, "started")
        st.rerun()
    job_panel(engine, "build", "Rebuild")

    st.subheader("Evaluation")
    st.write("Retrieval and answer quality on the evaluation sets of eval/, each split apart, as `python -m retrieval eval` "
             "reports them (questions on documents this index lacks are left out); takes several minutes.")
    eval_running = engine.eval_job is not None and engine.eval_job.running
    if st.button("Run the evaluation", disabled=eval_running or index is None):
        engine.start_evaluation()
        st.rerun()
    job_panel(engine, "eval", "Evaluation")
    job = engine.eval_job
    if job is not None and not job.running and job.result is not None:
        st.caption(f"Index version {job.result.version}")
        st.dataframe(job.result.rows, hide_index=True, width="stretch")
        with st.expander("Full report"):
            st.markdown(job.result.report)


def build_outcome(job) -> str:
    """What a finished rebuild did, for the audit log: its counts and version, or why it failed."""
    if job.error:
        return f"failed after {job.elapsed:.0f} s: {job.error}; the index in use is unchanged"
    report = job.result
    return f"completed in {job.elapsed:.0f} s: {report.summary().splitlines()[0].removeprefix('documents: ')}; live version {report.version}"


def _sha256(path) -> str:
    """The sha256 of a file the audit log names (a removed document's kept copy, a restored one)."""
    try:
        return file_sha256(path)
    except OSError:
        return ""
