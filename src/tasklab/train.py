"""``tasklab-train``: the Hydra app around ``runner.train``: one run, or a sweep with ``-m``."""

from __future__ import annotations

import math
import os
import sys
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from hydra_plugins.tasklab_sweeper.compose_once import use_compose_once_sweeper
from tasklab.cli_errors import one_line
from tasklab.conf import CONFIG_PATH
from tasklab.config import register_configs
from tasklab.config_checks import ConfigError
from tasklab.data.file_arrays import DataFileError
from tasklab.module import NonFiniteLossError
from tasklab.results import write_text_atomic
from tasklab.runner import in_multirun, train
from tasklab.runs.markers import RunInProgressError
from tasklab.runs.progress import end_of_run_line

TRACEBACK_FILE = "traceback.txt"


@hydra.main(version_base="1.3", config_path=CONFIG_PATH, config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    """One run. In a sweep a failed run is recorded and reported in one line, and the sweep
    goes on (the sweep's end reports every failure and exits non-zero); alone, it exits
    non-zero: 2 for the user's input (a bad value or data file), 1 for anything else."""
    try:
        result = train(cfg)
    except (ConfigError, DataFileError, NonFiniteLossError, RunInProgressError) as error:
        # The user's to fix: one line, no traceback.
        print(f"tasklab-train: error: {error}", file=sys.stderr)
        if in_multirun():
            return math.nan
        sys.exit(2 if isinstance(error, (ConfigError, DataFileError)) else 1)
    except Exception as error:
        if not in_multirun():
            raise
        output_dir = Path(HydraConfig.get().runtime.output_dir)
        write_text_atomic(output_dir / TRACEBACK_FILE, traceback.format_exc())
        print(
            f"tasklab-train: run failed: {type(error).__name__}: {error} "
            f"(traceback in {output_dir / TRACEBACK_FILE})",
            file=sys.stderr,
        )
        return math.nan
    hc = HydraConfig.get()
    sweep_dir = Path(hc.sweep.dir) if in_multirun() else None
    print(
        end_of_run_line(
            result.status,
            result.wall_time_s,
            result.metrics,
            Path(hc.runtime.output_dir),
            sweep_dir,
        ),
        flush=True,
    )
    # the value a hyperparameter search optimises (hparams_search=...); NaN when absent
    return result.metrics.get(cfg.objective, math.nan)


def check_search_paths(argv: list[str]) -> None:
    """A ``file://`` folder in a command-line ``hydra.searchpath`` exists (Hydra itself only
    warns, and then fails on a config it cannot find, without saying why)."""
    for arg in argv:
        key, _, value = arg.partition("=")
        if key.lstrip("+~") != "hydra.searchpath":
            continue
        for entry in value.strip("[]").split(","):
            entry = entry.strip().strip("'\"")
            if entry.startswith("file://") and not Path(entry[len("file://") :]).is_dir():
                raise ConfigError(
                    f"hydra.searchpath: {entry[len('file://') :]} is not a folder; give an "
                    "existing folder of configs (file://PATH, relative to where you run)"
                )


def main() -> None:
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # raise composition errors here, to word them once
    try:
        check_search_paths(sys.argv[1:])
        register_configs()  # imports the user's components too (TASKLAB_COMPONENTS)
        use_compose_once_sweeper()
        _hydra_main()
    except (HydraException, OmegaConfBaseException, OSError, ConfigError) as error:
        if previous == "1":  # the user asked for Hydra's full report
            raise
        print(f"tasklab-train: error: {one_line(error)}", file=sys.stderr)
        sys.exit(2)
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous


if __name__ == "__main__":
    main()
