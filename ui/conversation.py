"""Conversations that last: the id in the page's URL (`?c=`), a reload restoring it, a browser's
recent ones (retrieval.serve.conversations keeps them)."""

from __future__ import annotations

import streamlit as st

from retrieval.serve.conversations import ConversationStore, new_id, valid_id
from retrieval.serve.turn import Turn

ss = st.session_state
BROWSER_COOKIE = "rag_browser"


def browser_id() -> str:
    """A random id for this browser (a cookie, read once per session; `write_browser_cookie` sets it
    when missing): it lists the browser's recent conversations and nothing else."""
    if "browser_id" not in ss:
        cookie = valid_id(st.context.cookies.get(BROWSER_COOKIE))
        ss.browser_id, ss.browser_cookie_set = cookie or new_id(), cookie is not None
    return ss.browser_id


def write_browser_cookie() -> None:
    """Set the browser id's cookie when the browser sent none. Called at the same place of every run
    (the sidebar), never from the middle of the page: an element the first answer's run added above
    the conversation moved every later element one place down, so that while the next question was
    answered the previous answer showed twice (the stale copy below the redrawn one)."""
    browser = browser_id()
    if not ss.browser_cookie_set:
        st.html(f"<script>document.cookie = '{BROWSER_COOKIE}={browser}; path=/; max-age=31536000; samesite=strict';</script>",
                unsafe_allow_javascript=True)


def keep_turn(conversations: ConversationStore, turn: Turn) -> None:
    """Store the turn in this conversation (made on its first turn; its id goes into the URL). A
    conversation another browser started (opened by its address) is only read here: the turn goes
    into a new conversation of this browser that starts from a copy of it, at a new address."""
    cid = ss.get("conversation")
    if cid is not None and conversations.owner(cid) not in (None, browser_id()):
        cid = ss.conversation = conversations.create(browser_id(), copy_of=cid)
        ss.conversation_notice = "copied"
    if cid is None or not conversations.append(cid, turn):
        cid = ss.conversation = conversations.create(browser_id())
        conversations.append(cid, turn)
    for key in ("q", "doc", "v", "after"):  # a link's question is now a turn: a reload must not ask it again
        st.query_params.pop(key, None)
    st.query_params["c"] = cid


def open_conversation(conversations: ConversationStore, cid: str | None) -> bool:
    """Show a stored conversation (None: start a new one); False when there is no such conversation."""
    turns = conversations.turns(cid) if cid else None
    ss.turns = turns or []
    ss.conversation = cid if turns else None
    ss.conversation_notice = "foreign" if ss.conversation and conversations.owner(cid) != browser_id() else None
    ss.pop("presenter_turn", None)
    ss.pop("show_earlier", None)
    if ss.conversation:
        st.query_params["c"] = cid
    else:
        st.query_params.pop("c", None)
    return turns is not None


NOTICES = {
    "foreign": "This conversation was started in another browser: you can read it here, and a question you ask "
               "starts your own copy of it, at a new address (the original stays as it is).",
    "copied": "This is your own copy of a conversation started in another browser, at a new address: your questions "
              "go here, and the original stays as it is.",
}


def conversation_notice() -> str | None:
    """What the screen says about whose conversation this is, when it is not simply this browser's."""
    return NOTICES.get(ss.get("conversation_notice"))


def restore_conversation(conversations: ConversationStore) -> None:
    """The conversation named in the URL (`?c=`), once per session: a reload brings it back."""
    if ss.get("conversation_read"):
        return
    ss.conversation_read = True
    cid = st.query_params.get("c")
    if cid is not None and not (valid_id(cid) and open_conversation(conversations, cid)):
        st.query_params.pop("c", None)
        ss.conversation_missing = True
