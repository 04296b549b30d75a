"""The statistics of a comparison, computed once and rendered by every output.

Per cell and arm: mean, standard deviation, seeds and an interval over seeds and test
examples. Between arms in a cell: paired differences on matched seeds (``comparisons``), for
every metric shown and, for a mean over tasks, for each task too. For multi-task arms: Δm
against single-task. For transfer arms: the gain over scratch and the negative-transfer gap.
Along the declared data-size axis: fitted learning curves, where two of them cross, and what
an arm is worth in examples of the reference (``curves``, ``crossovers``, ``data_units``).

The verdicts of one report form a family: every comparison shown (arm pairs × cells ×
metrics, per task and mean) and every Δm. Their p-values are Holm-adjusted over the whole
family, and the interval printed is the family's (``intervals``), so a report of forty
comparisons does not expect two false verdicts by chance. A mean-level verdict that hides a
task significantly worse says so in words ("better on the mean, worse on digit").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from tasklab.metric_keys import split_task_metric, task_name
from tasklab.report.comparisons import SEEDS_ONLY, CellStat, Comparison, ComparisonBuilder
from tasklab.report.crossovers import CrossoverRow, crossover_rows
from tasklab.report.curves import DRAWS, CurveDraws, CurveRow, fit_curves
from tasklab.report.data_units import DataUnitRow, data_unit_rows
from tasklab.report.formatting import signed
from tasklab.report.grouping import Cell, Experiment, is_task_of
from tasklab.report.pairs import comparison_pairs, first_present
from tasklab.report.records import natural_key
from tasklab.report.resampling import RESAMPLES
from tasklab.report.stats.effects import delta_m_interval, lower_is_better
from tasklab.report.stats.intervals import Estimate, family_level, holm_factors
from tasklab.report.stats.significance import holm, power
from tasklab.report.verdicts import MIN_SEEDS, UNDECIDED, Outcome, Verdict, verdict


@dataclass(frozen=True, kw_only=True)
class TransferGain:
    """Gain of a transfer arm over scratch at one target size, signed so that positive is
    better; the negative-transfer gap is its opposite (> 0: pre-training hurt)."""

    experiment: str
    metric: str
    cell: Cell
    arm: str
    n: int
    scratch_mean: float
    arm_mean: float
    gain: float
    low: float
    high: float
    relative_gain_pct: float
    negative_transfer_gap: float
    verdict: Verdict


@dataclass(frozen=True, kw_only=True)
class DeltaM:
    experiment: str
    metric_name: str  # e.g. auroc: Δm over test/<task>/auroc
    cell: Cell
    arm: str
    reference: str
    n: int
    tasks: tuple[str, ...]
    value: float
    low: float
    high: float
    verdict: Verdict
    p_value: float = math.nan  # Student's t over the per-seed Δm (not resampled by example)
    p_adjusted: float = math.nan
    seed_sd: float = math.nan  # sd of the per-seed Δm
    level: float = 0.95  # of low/high: Holm-adjusted over the report's family


@dataclass
class Analysis:
    experiment: Experiment
    metrics: list[str]
    cells: list[CellStat] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    transfer: list[TransferGain] = field(default_factory=list)
    delta_m: list[DeltaM] = field(default_factory=list)
    crossovers: list[CrossoverRow] = field(default_factory=list)
    curves: list[CurveRow] = field(default_factory=list)
    data_units: list[DataUnitRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    family_size: int = 0  # comparisons and Δm values whose p-values were adjusted together
    # the arms are compared with, first present in a cell: the one asked for, the declared one
    references: tuple[str | None, ...] = ()


def _transfer_gain(comparison: Comparison, experiment: Experiment) -> TransferGain:
    sign = -1.0 if lower_is_better(comparison.metric) else 1.0
    arms = experiment.values[comparison.metric][comparison.cell]
    seeds = [s for s in arms[comparison.arm_a] if s in arms[comparison.arm_b]]
    scratch = sum(arms[comparison.arm_b][s] for s in seeds) / len(seeds)
    arm = sum(arms[comparison.arm_a][s] for s in seeds) / len(seeds)
    gain = sign * comparison.diff
    low, high = sorted((sign * comparison.low, sign * comparison.high))
    shown = comparison.verdict
    if shown.shown:
        positive = shown.winner == comparison.arm_a
        shown = dataclasses.replace(
            shown, phrase="positive transfer" if positive else "negative transfer"
        )
    relative = 100.0 * gain / abs(scratch) if scratch else math.nan
    return TransferGain(
        experiment=experiment.name,
        metric=comparison.metric,
        cell=comparison.cell,
        arm=comparison.arm_a,
        n=comparison.n,
        scratch_mean=scratch,
        arm_mean=arm,
        gain=gain,
        low=low,
        high=high,
        relative_gain_pct=relative,
        negative_transfer_gap=-gain,
        verdict=shown,
    )


def _task_values(
    experiment: Experiment, metric: str, cell: Cell, arm: str
) -> dict[int, dict[str, float]]:
    """{seed: {task: value}} from ``split/<task>/<name>`` metrics, for Δm."""
    split, _, name = split_task_metric(metric) or ("", "", "")
    per_seed: dict[int, dict[str, float]] = {}
    for key in _task_metrics(experiment, f"{split}/mean/{name}"):
        for s, value in experiment.values[key].get(cell, {}).get(arm, {}).items():
            per_seed.setdefault(s, {})[task_name(key)] = value
    return per_seed


def _delta_m(
    experiment: Experiment, metric: str, cell: Cell, arm: str, reference: str
) -> DeltaM | None:
    mtl = _task_values(experiment, metric, cell, arm)
    stl = _task_values(experiment, metric, cell, reference)
    lower = {task: lower_is_better(metric) for s in mtl.values() for task in s}
    result = delta_m_interval(mtl, stl, lower)
    if not result.tasks:
        return None
    found = result.estimate
    low, high = found.interval()
    return DeltaM(
        experiment=experiment.name,
        metric_name=metric.rsplit("/", 1)[-1],
        cell=cell,
        arm=arm,
        reference=reference,
        n=found.n,
        tasks=result.tasks,
        value=result.value,
        low=low,
        high=high,
        verdict=UNDECIDED,
        p_value=found.p_value(),
        seed_sd=found.seed_sd,
    )


def _task_metrics(experiment: Experiment, metric: str) -> list[str]:
    """``split/<task>/name`` for a ``split/mean/name`` metric: the tasks behind the mean."""
    return sorted((key for key in experiment.values if is_task_of(key, metric)), key=natural_key)


def _breakdown(experiment: Experiment, metric: str) -> list[str]:
    """The tasks behind a mean that get comparisons of their own: none where the mean is its
    one task's value, whose rows would repeat the mean's and count twice in Holm's family."""
    tasks = _task_metrics(experiment, metric)
    if len(tasks) == 1 and experiment.values[tasks[0]] == experiment.values.get(metric):
        return []
    return tasks


def _family_interval(found: Estimate, factor: float) -> tuple[float, float, float]:
    """(level, low, high) of the interval the verdict uses: the estimate's interval at the
    family's level for this comparison (``intervals.holm_factors``); none below 3 seeds."""
    level = family_level(factor)
    if found.n < MIN_SEEDS:
        return level, math.nan, math.nan
    low, high = found.interval(level)
    return level, low, high


def _decide(comparison: Comparison, p_adjusted: float, factor: float) -> Comparison:
    lower = lower_is_better(comparison.metric)
    a, b = comparison.arm_a, comparison.arm_b
    positive, negative = (b, a) if lower else (a, b)
    shown = verdict(comparison.n, comparison.diff, p_adjusted, positive, negative)
    found = comparison.estimate
    level, low, high = _family_interval(found, factor)
    detect = power(found, level)
    return dataclasses.replace(
        comparison,
        p_adjusted=p_adjusted,
        verdict=shown,
        level=level,
        low=low,
        high=high,
        detectable=detect.detectable,
        seeds_needed=detect.seeds_needed,
    )


def _with_per_task(mean: Comparison, per_task: list[Comparison]) -> Comparison:
    """The mean's verdict with every task's beside it, and a warning in words where the mean
    is better but a task is shown worse (or the other way round)."""
    if not per_task:
        return mean
    task_of = {c.metric: task_name(c.metric) for c in per_task}
    parts = [f"{task_of[c.metric]} {signed(c.diff)} ({c.verdict})" for c in per_task]
    found = mean.verdict
    if found.shown:
        worse = [
            task_of[c.metric]
            for c in per_task
            if c.verdict.shown and c.verdict.winner == found.loser
        ]
        found = dataclasses.replace(found, worse_on=tuple(worse))
    return dataclasses.replace(mean, verdict=found, per_task="; ".join(parts))


def analyse(
    experiment: Experiment,
    metrics: list[str],
    resamples: int = RESAMPLES,
    seed: int = 0,
    reference: str | None = None,
    extrapolate: float = 4.0,
    curves: bool = True,
) -> Analysis:
    """Cells, comparisons (each metric, and each task behind a mean), Δm and transfer gains of
    one experiment, with the family's verdicts; with ``curves``, along a declared size axis,
    fitted learning curves, crossovers and data units (``extrapolate``: how far beyond the
    largest size a trusted fit is carried)."""
    analysis = Analysis(experiment, metrics, references=(reference, experiment.reference))
    builder = ComparisonBuilder(experiment, resamples, seed)
    shown = [m for m in metrics if m in experiment.values]
    breakdown = {m: _breakdown(experiment, m) for m in shown}
    with_tasks = list(dict.fromkeys(m2 for m in shown for m2 in [m, *breakdown[m]]))
    raw: list[Comparison] = []
    delta_m: list[DeltaM] = []
    delta_m_done: set[tuple[str, str]] = set()
    pairs_by_metric: dict[str, set[tuple[str, str]]] = {}
    for metric in with_tasks:
        if metric in shown:
            analysis.cells += [
                builder.cell_stat(metric, cell, arm)
                for cell in experiment.cells(metric)
                for arm in sorted(experiment.values[metric][cell], key=natural_key)
            ]
        split, _, name = split_task_metric(metric) or (metric, "", "")
        family = (split, name)
        for cell in experiment.cells(metric):
            arms = list(experiment.values[metric][cell])
            pairs = comparison_pairs(arms, analysis.references, experiment.arm_sizes)
            for a, b in pairs:
                raw.append(builder.compare(metric, cell, a, b))
                pairs_by_metric.setdefault(metric, set()).add((a, b))
                if (
                    metric in shown
                    and experiment.reference_effect == "delta_m"
                    and b == experiment.reference
                    and family not in delta_m_done
                    and (dm := _delta_m(experiment, metric, cell, a, b))
                ):
                    delta_m.append(dm)
        if metric in shown:
            delta_m_done.add(family)
    p_values = [c.p_value for c in raw] + [d.p_value for d in delta_m]
    adjusted, factors = holm(p_values), holm_factors(p_values)
    decided = [_decide(c, p, f) for c, p, f in zip(raw, adjusted, factors, strict=False)]
    analysis.family_size = sum(1 for p in adjusted if not math.isnan(p))
    for d, p, f in zip(delta_m, adjusted[len(raw) :], factors[len(raw) :], strict=True):
        shown_verdict = verdict(d.n, d.value, p, d.arm, d.reference)
        found = Estimate(d.value, d.n, d.seed_sd, 0.0)
        level, low, high = _family_interval(found, f)
        analysis.delta_m.append(
            dataclasses.replace(
                d, p_adjusted=p, verdict=shown_verdict, level=level, low=low, high=high
            )
        )
    by_key = {(c.metric, c.cell, c.arm_a, c.arm_b): c for c in decided}
    for c in decided:
        if c.metric not in shown:
            continue
        tasks = [
            by_key[key]
            for task_metric in breakdown[c.metric]
            if (key := (task_metric, c.cell, c.arm_a, c.arm_b)) in by_key
        ]
        analysis.comparisons.append(_with_per_task(c, tasks))
    analysis.comparisons += [c for c in decided if c.metric not in shown]
    analysis.transfer = [
        _transfer_gain(c, experiment)
        for c in analysis.comparisons
        if c.metric in shown
        and experiment.reference_effect == "gain"
        and c.arm_b == experiment.reference
        and c.n > 0
    ]
    if curves and experiment.x_axis is not None:
        _curve_analysis(analysis, builder, shown, pairs_by_metric, seed, extrapolate)
    analysis.warnings += _warnings(analysis, builder)
    return analysis


def _curve_analysis(
    analysis: Analysis,
    builder: ComparisonBuilder,
    shown: list[str],
    pairs_by_metric: dict[str, set[tuple[str, str]]],
    seed: int,
    extrapolate: float,
) -> None:
    """Fitted learning curves, crossovers and data units along the declared size axis."""
    experiment = analysis.experiment
    draws = CurveDraws(experiment, builder.resampler, DRAWS, seed, extrapolate)
    verdicts = {
        (c.metric, c.cell.facet, c.arm_a, c.arm_b, c.cell.x): c.verdict
        for c in analysis.comparisons
    }
    for metric in shown:
        pairs = pairs_by_metric.get(metric, set())
        curves = fit_curves(experiment, metric, builder.resampler, draws, extrapolate)
        analysis.curves += curves
        analysis.crossovers += crossover_rows(
            experiment, metric, pairs, draws, verdicts, analysis.family_size
        )
        arms = sorted({a for c in experiment.values[metric].values() for a in c})
        found = first_present(analysis.references, arms)
        analysis.data_units += data_unit_rows(experiment, metric, pairs, found, draws, curves)


def _seeds_alone_exclude_zero(c: Comparison) -> bool:
    """Whether Student's t over the seeds alone, at the comparison's level, excludes 0."""
    low, high = Estimate(c.diff, c.n, c.seed_sd, 0.0).interval(c.level)
    return low > 0 or high < 0


def _warnings(analysis: Analysis, builder: ComparisonBuilder) -> list[str]:
    experiment = analysis.experiment
    few = {
        f"{s.cell.label(experiment.x_axis)} {s.arm}: {s.n} seed(s)"
        for s in analysis.cells
        if s.n < MIN_SEEDS
    }
    warnings = [
        f"fewer than {MIN_SEEDS} seeds, no interval to trust: {text}"
        for text in sorted(few, key=natural_key)
    ]
    if analysis.cells and not analysis.comparisons:
        arms = sorted({s.arm for s in analysis.cells}, key=natural_key)
        warnings.append(
            f"no comparable pairs: every cell holds one arm ({', '.join(arms)}); the report "
            "shows each arm's cells and no differences or verdicts"
        )
    seeds_only = [c for c in analysis.comparisons if c.interval == SEEDS_ONLY and c.n >= 2]
    if seeds_only:
        why = _unavailable_reasons(builder.resampler.unavailable) or [
            "no predictions stored for these metrics (a stage cached by an earlier version, "
            "say), or arms scored on different test rows"
        ]
        warnings.append(
            f"{len(seeds_only)} of {len(analysis.comparisons)} comparisons resample seeds only "
            f"(test-set noise not included: {'; '.join(why)}); their intervals are too narrow "
            "for a test split of a few hundred rows"
        )
    warnings += [
        f"{c.metric} {c.cell.label(experiment.x_axis)}: {c.arm_a} − {c.arm_b}: "
        f"{c.verdict}, although the seeds alone would suggest it (the test split's shared "
        f"noise, ±{c.test_se:.3f}, is what withholds it)"
        for c in analysis.comparisons
        if c.interval != SEEDS_ONLY
        and c.verdict.outcome is Outcome.NO_CONCLUSION
        and _seeds_alone_exclude_zero(c)
    ]
    if experiment.undeclared and experiment.x_axis is None:
        warnings.append(
            f"{experiment.undeclared} record(s) declare no data sizes (written by an older "
            "tasklab): no swept key is taken for a size; name one with --x KEY to draw "
            "learning curves against it"
        )
    warnings += [
        f"replicated runs disagree (the last one read is used): {text}"
        for text in experiment.disagreeing
    ]
    warnings += [
        f"left out, not a finite number (a diverged or broken run; rerun or remove it): {text}"
        for text in experiment.non_finite
    ]
    return warnings


def _unavailable_reasons(unavailable: dict[str, str]) -> list[str]:
    """Why runs have no predictions to resample, each reason with how many runs and one by
    name, so that a reader can find them."""
    runs: dict[str, list[str]] = {}
    for run_dir, reason in unavailable.items():
        runs.setdefault(reason, []).append(run_dir)
    return [
        f"{reason} in {len(dirs)} run(s), e.g. {sorted(dirs)[0]}"
        for reason, dirs in sorted(runs.items())
    ]
