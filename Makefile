# Two commands on a fresh machine: `make demo` and `make test`. Both create or reuse .venv.
VENV ?= .venv
BIN := $(VENV)/bin
# Standard networks (model=torchvision, model=timm) live in a second environment, so the default
# one stays light: torchvision must be the build made for its torch, and the pair below is
# one that imports on a CPU-only machine (override VISION_TORCH for your own CUDA or CPU pair).
VISION_VENV ?= .venv-vision
VISION_TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: setup setup-vision demo test test-all lint bench bench-vision clean

setup:
	@bash scripts/bootstrap.sh

setup-vision:
	@TASKLAB_VENV=$(VISION_VENV) TASKLAB_EXTRAS=dev,vision TORCH_SPEC="$(VISION_TORCH)" \
		TASKLAB_CUDA_EXPECTED=1 bash scripts/bootstrap.sh

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

# The whole suite, as CI runs it (.ci/run); then the tests of standard networks (marked vision)
# in the environment that has them, where a missing torchvision fails instead of skipping.
test-all: setup setup-vision
	$(BIN)/python -m pytest
	TASKLAB_REQUIRE_VISION=1 $(VISION_VENV)/bin/python -m pytest -m vision

lint: setup
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

bench: setup
	$(BIN)/python scripts/bench_throughput.py
	$(BIN)/python scripts/bench_transfer_memory.py
	$(BIN)/python scripts/bench_compare.py

bench-vision: setup-vision
	$(VISION_VENV)/bin/python scripts/bench_image_loader.py

clean:
	rm -rf outputs multirun
