"""Building an index from the corpus folder: read what changed, chunk, embed (reusing every unchanged vector and
resuming an interrupted build), and hand a `BuiltIndex` to the store.
"""
