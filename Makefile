# Two commands on a fresh machine: `make demo` and `make test`. Both create or reuse .venv.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test test-all lint bench clean

setup:
	@bash scripts/bootstrap.sh

# The grid of conf/experiment/vectors_mtl_shared_features.yaml: 16 tasks that share their
# features, and 16 that share none, each trained by one shared network and by one network per
# task, 10 seeds (5 cannot carry a verdict through Holm's correction over the report's 108
# comparisons); prints each arm's mean with its 95% CI, the paired multi-task − single-task
# difference per cell and per task with its Holm-adjusted CI, and the verdicts.
demo: setup
	WANDB_SILENT=true $(BIN)/tasklab-train -m experiment=vectors_mtl_shared_features \
		trainer.progress_bar=false

# The developer's loop (about 2 minutes): everything but the tests marked slow or browser.
test: setup
	$(BIN)/python -m pytest -m "not slow and not browser"

# The whole suite, as CI runs it (.ci/run).
test-all: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

bench: setup
	$(BIN)/python scripts/bench_throughput.py
	$(BIN)/python scripts/bench_transfer_memory.py
	$(BIN)/python scripts/bench_compare.py

clean:
	rm -rf outputs multirun
