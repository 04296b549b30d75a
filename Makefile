# Two commands on a fresh machine: `make demo` and `make test`. Both create or reuse .venv.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup:
	@bash scripts/bootstrap.sh

# The reduced grid of conf/experiment/driving_mtl_vs_stl.yaml (about three minutes on 2 cores);
# prints mean ± 95% CI per arm and the paired multi-task − single-task difference.
demo: setup
	WANDB_SILENT=true $(BIN)/tasklab-train -m experiment=driving_mtl_vs_stl \
		data.n_train=200 data.label_rate=0.5 seed=0,1,2 trainer.progress_bar=false

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
