"""The benchmarks (`python -m retrieval.bench`, `.bench.limits`, `.bench.bad_input`): numbers printed and written
to docs/benchmarks.md, never asserted.
"""
