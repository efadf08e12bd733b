"""A background job's progress on the page (a rebuild, an evaluation)."""

from __future__ import annotations

import streamlit as st

from retrieval.serve.markdown_text import inert_markdown


def job_panel(engine, kind: str, label: str) -> None:
    """Progress of a background job; polls every second while it runs, then reruns the page."""
    job = getattr(engine, f"{kind}_job")
    running = job is not None and job.running

    @st.fragment(run_every=1.0 if running else None)
    def panel() -> None:
        job = getattr(engine, f"{kind}_job")
        if job is None:
            return
        if job.running:
            count = f" {job.done} of {job.total}" if job.total else ""
            st.progress(job.fraction, text=f"{label}: {job.stage}{count} ({job.elapsed:.0f} s)")
            return
        if running:  # it finished since the page was drawn: redraw everything with the new state
            st.rerun()
        if job.error:
            st.error(f"{label} failed: {inert_markdown(job.error)}. The index in use is unchanged.")
        elif kind == "build":
            st.success(f"{label} finished in {job.elapsed:.0f} s; the app now answers from index {job.result.version}.")
            st.code(job.result.summary(), language=None)

    panel()
