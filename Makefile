# The two commands of the README: `make run` and `make test`. Everything else is for going further.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test setup train test-deps validate nlu-report bench clean

run: setup  ## install what is missing, train if needed, start everything; Ctrl-C stops it
	@$(PY) -m bot.stack

test: setup test-deps  ## the whole test suite (unit, store, NLU, browser, full-stack integration)
	@$(PY) -m pytest $(PYTEST_ARGS)

setup:
	@scripts/setup.sh

train: setup  ## retrain only if config.yml, domain.yml or data/ changed
	@$(PY) -m bot.model_cache

test-deps:
	@scripts/test-deps.sh

validate: setup  ## rasa data validate (tests/nlu/test_data_validate.py lists the known false positives)
	@$(VENV)/bin/rasa data validate

nlu-report: setup  ## held-out accuracy, out-of-scope recall, macro-F1, confusions, threshold sweep
	@$(PY) -m tests.nlu.heldout_report

BENCH_ARGS ?=

bench: setup test-deps  ## figures, not tests: printed and written to benchmarks/results/ (BENCH_ARGS="--compare FILE")
	@$(PY) -m benchmarks.suite $(BENCH_ARGS)
	@$(PY) -m benchmarks.webchat_roundtrip
	@$(PY) -m benchmarks.webhook_ack
	@$(PY) -m benchmarks.handoff_latency
	@$(PY) -m benchmarks.fault_run --kill-rasa

clean:
	rm -rf var models/*.tar.gz
