"""The comparison in W&B: the same tables and plots, logged to one run per experiment in the
experiment's group (``job_type=compare``), so users who live in the W&B UI see what
``report.html`` shows next to the runs it summarises. Offline by default, as training is.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tasklab.report.analysis import Analysis
from tasklab.report.plots import Plot
from tasklab.report.tables import Table


def _cell(value: Any) -> Any:
    """W&B tables hold one type per column: axis values become text, NaN becomes None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _axis(value: Any) -> str | None:
    if value is None:
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)


def log_to_wandb(
    analyses: list[Analysis],
    tables: list[Table],
    plot_files: dict[str, list[tuple[Plot, Path]]],
    out_dir: Path,
    mode: str,
    project: str,
    groups: dict[str, str],
) -> list[Path]:
    """One W&B run per experiment; returns the run folders written (offline mode)."""
    import wandb

    run_dirs = []
    for analysis in analyses:
        name = analysis.experiment.name
        run = wandb.init(
            project=project,
            group=groups.get(name, name),
            job_type="compare",
            name=f"compare-{name}",
            dir=str(out_dir),
            mode=mode,
            reinit="create_new",
            config={"metrics": analysis.metrics, "size_axis": analysis.experiment.x_axis},
        )
        try:
            payload: dict[str, Any] = {}
            for table in tables:
                rows = table.for_experiment(name).rows
                if not rows:
                    continue
                columns = table.columns
                axis_columns = set(analysis.experiment.swept)
                data = [
                    [_axis(row.get(c)) if c in axis_columns else _cell(row.get(c)) for c in columns]
                    for row in rows
                ]
                payload[f"compare/{table.name}"] = wandb.Table(
                    columns=columns, data=data, allow_mixed_types=True
                )
            for plot, path in plot_files.get(name, []):
                payload[f"compare/plots/{path.stem}"] = wandb.Image(str(path), caption=plot.caption)
            run.log(payload)
            run.summary["compare/warnings"] = len(analysis.warnings)
            if run.dir:
                run_dirs.append(Path(run.dir).parent)
        finally:
            run.finish()
    return run_dirs
