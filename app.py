"""Streamlit entry point (placeholder until the UI issue lands): ask a question of the index."""

import streamlit as st

st.set_page_config(page_title="Migration policy assistant", page_icon="📚")
st.title("Migration policy assistant")
st.write("Ask questions about integration and reintegration policy documents.")
