"""`python -m retrieval`: build, info, search, ask, eval, compare, hash-password, install-model. JSON fields and
flags are a contract other tools read.
"""
