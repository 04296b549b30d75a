# Two commands on a fresh machine: `make demo` and `make test`. Both create or reuse .venv.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup:
	@bash scripts/bootstrap.sh

# The reduced grid of conf/experiment/vectors_mtl_shared_features.yaml (three to four minutes on
# 2 cores): 16 tasks that share their features, and 16 that share none, each trained by one
# shared network and by one network per task, 5 seeds; prints each arm's mean with its 95% CI,
# the paired multi-task − single-task difference per cell and per task, and the verdicts.
demo: setup
	WANDB_SILENT=true $(BIN)/tasklab-train -m experiment=vectors_mtl_shared_features \
		seed=0,1,2,3,4 trainer.progress_bar=false

test: setup
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
