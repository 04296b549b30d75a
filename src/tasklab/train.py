"""``tasklab-train``: the Hydra app around ``runner.train``: one run, or a sweep with ``-m``."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import traceback
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException
from yaml import YAMLError

from hydra_plugins.tasklab_sweeper.compose_once import use_compose_once_sweeper
from tasklab.cli_errors import one_line
from tasklab.conf import CONFIG_PATH
from tasklab.config import register_configs
from tasklab.config_checks import ConfigError
from tasklab.data.file_arrays import DataFileError
from tasklab.fit.module import NonFiniteLossError
from tasklab.results import disk_full, write_text_atomic
from tasklab.runner import in_multirun, train
from tasklab.runs.interrupts import (
    RunInterrupted,
    child_processes,
    interruptible,
    reported_interruption,
)
from tasklab.runs.markers import RunInProgressError, runs_held_by
from tasklab.runs.progress import current_sweep_dir, end_of_run_line, sweep_progress

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
        if disk_full(error):  # one line naming the folder, alone or in a sweep
            print(f"tasklab-train: error: {one_line(error)}", file=sys.stderr)
            if in_multirun():
                return math.nan
            sys.exit(1)
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
    if getattr(result, "skipped", False):  # its one line is printed: no "ok in" it did not earn
        return result.metrics.get(cfg.objective, math.nan)
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


def _interrupted_line(error: RunInterrupted) -> str:
    """What a pre-empted or Ctrl-C'd command says: what stopped, what a relaunch does."""
    sweep_dir = current_sweep_dir()
    where = (
        f"sweep {sweep_dir}: {sweep_progress(sweep_dir, estimate=False)}; "
        if sweep_dir is not None
        else ""
    )
    return (
        f"tasklab-train: {error} (exit {error.exit_code}); {where}launch the same command again "
        "to resume: finished runs are skipped, interrupted ones continue from their last "
        "checkpoint"
    )


def _stop_workers(signum: int, wait_s: float = 30.0) -> None:
    """A launcher's workers (joblib's processes, submitit's local jobs) get the signal too,
    so their runs record themselves as interrupted; wait (a while) until they have."""
    workers = child_processes()
    for pid in workers:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)
    sweep_dir = current_sweep_dir()
    if not workers or sweep_dir is None:
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and runs_held_by(sweep_dir, workers):
        time.sleep(0.05)


def main() -> None:
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # raise composition errors here, to word them once
    try:
        with interruptible(before_raise=_stop_workers):
            check_search_paths(sys.argv[1:])
            register_configs()  # imports the user's components too (TASKLAB_COMPONENTS)
            use_compose_once_sweeper()
            _hydra_main()
    except RunInterrupted as error:
        print(_interrupted_line(error), file=sys.stderr, flush=True)
        sys.exit(error.exit_code)
    except (HydraException, OmegaConfBaseException, OSError, ConfigError, YAMLError) as error:
        if previous == "1":  # the user asked for Hydra's full report
            raise
        print(f"tasklab-train: error: {one_line(error)}", file=sys.stderr)
        sys.exit(1 if disk_full(error) else 2)  # a full disk is not the input's fault
    except Exception as error:
        # a job of submitit's launcher that was interrupted, reported by the launcher
        interrupted = reported_interruption(error)
        if interrupted is None:
            raise
        print(_interrupted_line(interrupted), file=sys.stderr, flush=True)
        sys.exit(interrupted.exit_code)
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous


if __name__ == "__main__":
    main()
