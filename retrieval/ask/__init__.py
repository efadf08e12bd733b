"""A question into passages and an answer: hybrid search and fusion, the documents a question names, compound
questions, and extractive answers of quoted sentences with their citations or "not covered".
"""
