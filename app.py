"""Streamlit app: layout and session state only. The logic lives in retrieval/ (the engine, presentation,
uploads and pages under retrieval/serve/) and the Index page in ui/. Run with `streamlit run app.py`.

Every piece of document or question text reaches the page through retrieval.serve.presentation, which
escapes it before adding any markup, and is rendered with st.html (no Markdown is read there).
"""

from __future__ import annotations

import math

import streamlit as st

from retrieval import ConversationStore, Embedder, Engine, IndexLoadError, Settings
from retrieval.config import MAX_QUESTION_CHARS
from retrieval.serve.export import conversation_markdown
from retrieval.serve.links import Snapshot, parse_snapshot, snapshot_link
from retrieval.serve.markdown_text import inert_markdown
from retrieval.serve.presentation import (
    CSS,
    HIDE_SIDEBAR,
    answer_html,
    citation_html,
    context_html,
    counted,
    escape,
    is_blank,
    plain_text_html,
    presenter_html,
    presenter_position_html,
    question_html,
    scores_html,
    scroll_into_view_html,
    term_spans,
)
from retrieval.serve.turn import Turn
from ui.conversation import (
    browser_id,
    conversation_notice,
    keep_turn,
    open_conversation,
    restore_conversation,
    write_browser_cookie,
)
from ui.index_page import damaged_index, page_index
from ui.jobs import job_panel
from ui.upload_gate import install as guard_uploads

TITLE = "Migration policy assistant"
#: turns of a conversation drawn on each run; the earlier ones are folded behind a button
SHOWN_TURNS = 10
VIEWS = ("Ask", "Presenter", "Index")
EXAMPLES = (
    "What are the three dimensions of integration policies?",
    "How long can an EU citizen stay in another Member State without conditions?",
    "What does the principle of non-refoulement prohibit?",
    "What challenges do returning migrants face when they reintegrate?",
)

ss = st.session_state
wide = ss.get("view") in ("Presenter", "Index") or ss.get("trainer", False)
st.set_page_config(page_title=TITLE, page_icon="📚", layout="wide" if wide else "centered")
st.html(CSS)


def model_key(s: Settings) -> tuple:
    return (s.model, s.sentence_model, s.batch_size, s.precision, s.backend, str(s.cache_dir))


@st.cache_resource(show_spinner=False)
def get_embedder(key: tuple, _settings: Settings):
    """One model per process and model settings (`key`), whatever else the settings change."""

    return Embedder.from_settings(_settings)


@st.cache_resource(show_spinner=False)
def get_engine(key: str, _settings: Settings) -> Engine:
    """One engine per process and settings, shared by every session; the model loads in its own thread.
    The server's upload limit is set to RAG_MAX_FILE_MB here: Streamlit refuses a larger body before
    reading it (its own default is 200 MB, whatever the widget says)."""
    from streamlit import config

    config.set_option("server.maxUploadSize", max(1, math.ceil(_settings.max_file_mb)))
    return Engine(_settings, embedder=get_embedder(model_key(_settings), _settings))


@st.cache_resource(show_spinner=False)
def get_conversations(data_dir: str, keep_days: int) -> ConversationStore:
    return ConversationStore(data_dir, keep_days)


guard_uploads()  # only a signed-in maintainer's session may make the server hold uploaded bytes
settings = Settings.from_env()
engine = get_engine(repr(settings), settings)
conversations = get_conversations(str(settings.data_dir), settings.conversation_days)
ss.setdefault("turns", [])


# --------------------------------------------------------------------------- shared pieces


def wait_for_model() -> bool:
    if not engine.model_ready:
        with st.spinner("Loading the language model (once per start, a few seconds)…"):
            engine.wait_for_model(180)
    if engine.model_error:
        st.error(inert_markdown(engine.model_error))
        return False
    return True


def titles() -> dict[str, str]:
    index = engine.index_or_none()
    return {e["doc"]: e.get("short_title") or e.get("title") or e["doc"] for e in (index.document_entries() if index else [])}


def answer_turn(snapshot: Snapshot, note: str = "", alone: bool = False) -> Turn | None:
    """Answer a question (from the chat box, an example or a link) and keep it in the session;
    `alone`: never read it as a follow-up ("Ask on its own")."""
    history = [] if alone else [snapshot.after] if snapshot.after else [t.answer.query for t in ss.turns][-1:]
    known, unknown = engine.resolve_docs(snapshot.docs)
    if unknown:
        note += f" Not in the index any more, so not asked: {', '.join(unknown)}."
    if not wait_for_model():
        return None
    try:
        answer, version = engine.ask(snapshot.question, history=history, docs=known)
    except IndexLoadError as exc:  # the index could not be read (a Milvus server gone): one line, the question kept in the box's history
        st.error(inert_markdown(str(exc)))
        return None
    after = history[-1] if history and answer.query != " ".join(answer.question.split()) else ""
    turn = Turn(answer, tuple(known), version, after, note.strip())
    ss.turns.append(turn)
    keep_turn(conversations, turn)
    return turn


def ask(snapshot: Snapshot, note: str = "", alone: bool = False) -> None:
    with st.spinner("Finding the passages…"):
        turn = answer_turn(snapshot, note, alone)
    if turn is not None:
        render_turn(len(ss.turns) - 1, turn)
        # the new question at the top of the view: its answer and any warning are read from the top
        st.html(scroll_into_view_html('[data-testid="stChatMessage"]', from_end=2), unsafe_allow_javascript=True)


def render_turn(i: int, turn: Turn) -> None:
    answer = turn.answer
    trainer = ss.get("trainer", False)
    with st.chat_message("user"):
        st.html(question_html(answer.question))
    with st.chat_message("assistant"):
        if turn.note:
            # the note may quote a link's values: shown as plain text, never read as Markdown
            st.html(f'<div class="rag-warning">{escape(" ".join(turn.note.split()))}</div>')
        notes = []
        if turn.docs:
            names = titles()
            notes.append("Asked only: " + "; ".join(escape(names.get(d, d)) for d in turn.docs))
        if turn.after:
            notes.append(f"Read as a follow-up to: {escape(turn.after)}")
        if answer.shortened:
            notes.append(f"The question was shortened to its first {MAX_QUESTION_CHARS} characters.")
        if answer.lacks_note:
            notes.append(escape(answer.lacks_note))
        try:
            live = engine.live_version()
        except IndexLoadError:
            live = None
        if turn.version and live and turn.version != live:
            notes.append(f"Answered from index version {escape(turn.version)}; the index has changed since (now {escape(live)}), "
                         "so asking again may give another answer.")
        if notes:
            st.html("<small>" + "<br>".join(notes) + "</small>")
        if turn.after and st.button("Ask on its own", key=f"alone-{i}", help="Ask this question again without the previous one"):
            ss.pending_alone = (answer.question, turn.docs)
            st.rerun()
        st.html(answer_html(answer))
        cited = answer.citations if answer.answerable else answer.related
        if not answer.answerable and not answer.language:
            st.html("<p><b>Related reading</b>: the closest passages, which do not answer the question.</p>" if cited else "<p>No passage comes close.</p>")
        terms = engine.question_terms(answer.query) if trainer else set()
        for c in cited:
            marks = term_spans(c.text, terms, engine.stem) if trainer else ()
            st.html(citation_html(c, terms=marks, number=answer.answerable, quoted=answer.answerable))
            with st.expander("Surrounding text"):
                ctx = engine.context(c, turn.version)
                st.html(context_html(ctx.text, ctx.passage, ctx.quoted if answer.answerable else ()))
            if trainer and c.page_start is not None and st.toggle(f"Show the original page {c.page_start}", key=f"page-{i}-{c.chunk_id}"):
                original_page(c, turn.version, answer.answerable)
        if trainer and answer.hits:
            with st.expander("How this answer was found", expanded=True):
                st.html(scores_html(answer.hits, engine.stem, terms, answer.query))
        link = snapshot_link(turn.snapshot, st.context.url).replace("<", "").replace(">", "")
        st.markdown(f"[Link to this answer](<{link}>)", help="Opens this question again with the same document filter; says so if the index has changed.")


def original_page(c, version: str, quoted: bool) -> None:
    """The PDF page a citation is on, with the quoted sentences marked; its text where no image can be made."""
    quotes = [c.text[s:e] for s, e in c.quoted] if quoted else []
    image = engine.page_image(c.doc, c.page_start, quotes)
    if image:
        marked = " The quoted sentences are marked." if quotes else ""
        st.image(image, caption=f"{c.doc}, page {c.page_start}.{marked}")
    else:
        st.html(plain_text_html(engine.page_text(c.doc, c.page_start, version) or "(the page's text is not available)"))


def read_snapshot() -> tuple[Snapshot | None, str]:
    """The question in the page's URL (a link to an answer), once per session."""
    if ss.get("snapshot_read"):
        return None, ""
    ss.snapshot_read = True
    params = {key: st.query_params.get_all(key) for key in ("q", "doc", "after", "v")}
    snapshot = parse_snapshot(params)
    if snapshot is None:
        return None, ""
    live = engine.live_version()
    note = ""
    if snapshot.version and snapshot.version != live:
        note = (f"This link was made with index version {snapshot.version}; the index has changed since (now {live}). "
                "The answer below comes from the current documents and may differ from the one that was shared.")
    known, _ = engine.resolve_docs(snapshot.docs)
    ss.docs = known
    return snapshot, note


# --------------------------------------------------------------------------- pages


def sidebar_corpus(index):
    with st.sidebar:
        entries = index.document_entries()
        st.subheader(f"Documents ({len(entries)})")
        items = []
        for e in entries:
            facts = " · ".join(x for x in (str(e.get("year") or ""), counted(e.get("pages") or 0, "page"), counted(e.get("chunks", 0), "passage", zero=True)) if x)
            items.append(f'<li title="{escape(e.get("title", ""))}"><b>{escape(e.get("short_title") or e.get("title") or e["doc"])}</b><br><small>{escape(facts)}</small></li>')
        st.html('<ul style="padding-left:1.1em;margin:0">' + "".join(items) + "</ul>")
        options = [e["doc"] for e in entries]
        ss.docs = [d for d in ss.get("docs", []) if d in options]
        names = titles()
        st.multiselect("Ask only these documents", options, key="docs", format_func=lambda d: names.get(d, d), placeholder="All documents")
        st.toggle("Show how each answer was found", key="trainer", help="For trainers: ranks, scores, search terms and the original pages.")
        actions = st.container()  # filled at the end of the run, once this run's answer is in the conversation
        st.caption(f"Index version {index.version}, built {index.manifest.get('built_at', '?')}")
    return actions


def conversation_actions(actions) -> None:
    with actions:
        write_browser_cookie()
        st.download_button(
            "Download the conversation (Markdown)",
            conversation_markdown(ss.turns, titles(), st.context.url, title=TITLE),
            file_name="conversation.md",
            mime="text/markdown",
            disabled=not ss.turns,
            on_click="ignore",
        )
        st.button("New conversation", disabled=not ss.turns, on_click=open_conversation, args=(conversations, None),
                  help="The current one stays under Recent conversations and at its address.")
        recent = conversations.recent(browser_id(), limit=8)
        if recent:
            st.caption("Recent conversations")
            for summary in recent:
                current = summary.id == ss.get("conversation")
                # a button label is read as Markdown: the question's text is made inert first
                label = inert_markdown(summary.title[:60] + ("…" if len(summary.title) > 60 else "")) or "(no question)"
                st.button(f"{'▸ ' if current else ''}{label} ({summary.turns})", key=f"conversation-{summary.id}", disabled=current,
                          on_click=open_conversation, args=(conversations, summary.id), type="tertiary", help=f"Last used {summary.updated_at[:16].replace('T', ' ')} UTC")


def page_ask(index, snapshot: Snapshot | None, note: str) -> None:
    st.title(TITLE)
    if ss.pop("conversation_missing", False):
        st.info("The conversation in this address is not kept here (an old or mistyped address): a new one starts.")
    notice = st.container()  # whose conversation this is: the same place on every run, filled once this run's turn is kept
    prompt = st.chat_input("Ask a question about the documents", key="chat", max_chars=MAX_QUESTION_CHARS)
    prompt = None if is_blank(prompt) else prompt  # whitespace or invisible characters only: nothing is sent, the page stays as it was
    pending = ss.pop("pending", None)
    alone = ss.pop("pending_alone", None)
    if not ss.turns and not (prompt or pending or snapshot):
        st.write("Ask a question in plain words. Every answer is made of sentences from the documents, each with its source; "
                 "when the documents do not cover a question, the assistant says so.")
        st.caption("For example:")
        for n, example in enumerate(EXAMPLES):
            if st.button(example, key=f"example-{n}"):
                ss.pending = example
                st.rerun()
    earlier = st.container()  # the same place on every run, whether or not there are folded turns
    first = 0 if ss.get("show_earlier") else max(0, len(ss.turns) - SHOWN_TURNS)
    if first:  # a long conversation: only its last turns are drawn, so each question costs the same
        earlier.button(f"Show the {first} earlier turn{'s' if first != 1 else ''}", key="show-earlier", type="tertiary",
                       on_click=lambda: ss.update(show_earlier=True), help="Earlier turns are folded so that each answer comes quickly.")
    for i in range(first, len(ss.turns)):
        render_turn(i, ss.turns[i])
    if snapshot:
        ask(snapshot, note)
    elif alone:
        ask(Snapshot(alone[0], tuple(alone[1])), alone=True)
    elif not is_blank(prompt or pending):
        ask(Snapshot(prompt or pending, tuple(ss.docs)))
    else:
        wait_for_model()  # after the first paint: the page is already visible behind the spinner
    if conversation_notice():
        notice.info(conversation_notice())


def page_presenter(index, *_) -> None:
    st.html(HIDE_SIDEBAR)
    st.button("◀ Leave the presenter view", key="presenter-leave", on_click=lambda: ss.update(view="Ask"), type="tertiary")
    prompt = st.chat_input("Ask a question", key="presenter_chat", max_chars=MAX_QUESTION_CHARS)
    prompt = None if is_blank(prompt) else prompt
    if prompt:
        with st.spinner("Finding the passages…"):
            answer_turn(Snapshot(prompt, tuple(ss.get("docs") or ())))
    if not ss.turns:
        st.title("Presenter view")
        st.info("Ask a question below (or on the Ask page); the answer shows here in large type, one source at a time.")
        return
    questions = list(range(len(ss.turns)))
    if ss.get("presenter_turn") not in questions or prompt:
        ss.presenter_turn = questions[-1]
        ss.presenter_pos = 0
    turn = ss.turns[ss.presenter_turn]
    answer = turn.answer
    cited = list(answer.citations if answer.answerable else answer.related)
    pos = min(ss.get("presenter_pos", 0), max(0, len(cited) - 1))

    def move(step: int) -> None:
        ss.presenter_pos = max(0, min(len(cited) - 1, pos + step))

    st.html(f'<div class="rag-presenter"><div class="rag-q"><b>{escape(answer.question)}</b></div></div>')
    if turn.note:
        st.html(f'<div class="rag-warning">{escape(" ".join(turn.note.split()))}</div>')
    # the controls and which source this is, right under the question: in view at 1280 x 720 without scrolling
    left, middle, right = st.columns([1, 2, 1], vertical_alignment="center")
    left.button("◀ Previous", key="presenter-prev", on_click=move, args=(-1,), disabled=pos == 0, width="stretch")
    middle.html(presenter_position_html(answer, pos + 1, len(cited)))
    right.button("Next ▶", key="presenter-next", on_click=move, args=(1,), disabled=pos >= len(cited) - 1, width="stretch")
    st.html(presenter_html(answer, cited[pos] if cited else None, pos + 1, len(cited)))
    shown = (ss.presenter_turn, pos)
    if prompt or ss.get("presenter_shown") != shown:  # a new answer or passage, or the view just opened: read from its top
        st.html(scroll_into_view_html(".rag-presenter .rag-q"), unsafe_allow_javascript=True)
    ss.presenter_shown = shown
    if cited and cited[pos].page_start is not None and st.toggle(f"Show the original page {cited[pos].page_start}", key=f"presenter-page-{ss.presenter_turn}-{pos}"):
        original_page(cited[pos], turn.version, answer.answerable)
    labels = [f"{i + 1}. {t.answer.question}" for i, t in enumerate(ss.turns)]
    st.selectbox("Question", questions, key="presenter_turn", format_func=labels.__getitem__, label_visibility="collapsed",
                 on_change=lambda: ss.update(presenter_pos=0))


# --------------------------------------------------------------------------- layout

try:
    live_index = engine.retriever().index if engine.live_version() is not None else None
    load_error = None
except IndexLoadError as exc:
    live_index, load_error = None, exc

restore_conversation(conversations)
link, link_note = read_snapshot() if live_index is not None else (None, "")
if link is not None:
    ss.view = "Ask"
with st.sidebar:
    st.radio("View", VIEWS, key="view", horizontal=True, label_visibility="collapsed")

if live_index is None and load_error is None:
    st.title(TITLE)
    st.info("There is no index yet: building it from the corpus folder (first start only). The page updates when it is ready.")
    if engine.build_job is None:
        engine.start_build()
    job_panel(engine, "build", "Building the index")
    if engine.build_job.error and st.button("Try again"):
        engine.start_build()
        st.rerun()
    st.stop()

if load_error is not None:
    st.title(TITLE)
    damaged_index(engine, settings, load_error)  # only a signed-in maintainer may rebuild it; no server paths shown
    st.stop()

actions = sidebar_corpus(live_index)
if engine.upgrading_from:
    with st.sidebar:
        st.info(inert_markdown(f"Answering from a quick index of {engine.upgrading_from} while the index of {settings.model} "
                               "is built in the background; it takes over when complete, with no restart."))
if ss.get("view", "Ask") != "Presenter":
    ss.pop("presenter_shown", None)
view = ss.get("view", "Ask")
if view == "Index":
    page_index(engine, settings, live_index)
else:
    {"Ask": page_ask, "Presenter": page_presenter}[view](live_index, link, link_note)
conversation_actions(actions)
