"""Measuring: the question sets and their splits, retrieval and answer metrics, the report, bootstrap intervals
and the comparison of two runs. `run.py` is the one evaluation run of `eval` and the app.
"""
