"""Offline question answering over migration-policy documents.

The library behind `python -m retrieval` and the Streamlit app: loading and cleaning documents,
chunking, embedding, the index on disk, search and answer composition.
"""

__version__ = "0.1.0"
