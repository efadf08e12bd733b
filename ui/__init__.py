"""The Streamlit pieces of the app that app.py lays out: each module one part of the page.

The logic stays in retrieval/; these modules only draw it and keep session state."""
