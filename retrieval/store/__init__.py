"""The index and where it lives. `open_store(settings)` (backend.py) returns the files back end (files.py: FAISS +
bm25s in versioned folders) or Milvus (milvus*.py) behind the `IndexStore` seam; an opened `Index` (index.py)
runs the three searches, each filtered by document name.
"""
