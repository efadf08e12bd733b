"""`python -m retrieval.bench`: the scale benchmark (retrieval/bench/scale.py), which writes docs/benchmarks.md."""

import sys

from retrieval.bench.scale import main

sys.exit(main())
