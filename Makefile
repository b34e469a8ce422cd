# The two commands of the README: `make run` and `make test`. Everything else is for going further.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: run test setup train test-deps validate nlu-report review bench clean

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
	@$(VENV)/bin/rasa data validate --data $$(PYTHONPATH=. $(PY) -c "from bot.model_cache import training_data, ROOT; print(' '.join(str(p.relative_to(ROOT)) for p in training_data()))")

nlu-report: setup  ## held-out accuracy, per-intent precision/recall/F1, confusion-matrix PNG, threshold sweep
	@$(PY) -m tests.nlu.heldout_report

REVIEW_ARGS ?=

review: setup  ## what trainers should look at (data/review/candidates.yml), from the analytics database
	@$(PY) -m analytics review $(REVIEW_ARGS)

BENCH_ARGS ?=

bench: setup test-deps  ## figures, not tests: printed and written to benchmarks/results/ (BENCH_ARGS="--compare FILE")
	@$(PY) -m benchmarks.suite $(BENCH_ARGS)
	@$(PY) -m benchmarks.webchat_roundtrip
	@$(PY) -m benchmarks.webhook_ack
	@$(PY) -m benchmarks.handoff_latency
	@$(PY) -m benchmarks.fault_run --kill-rasa
	@$(PY) -m benchmarks.rabbitmq_restart

clean:
	rm -rf var models/*.tar.gz
