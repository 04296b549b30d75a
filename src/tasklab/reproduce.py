"""``tasklab-reproduce RUN_DIR``: run a recorded run again from the config in its record and
print, metric by metric, the recorded value, the new one and their difference.

The record's config is fully resolved (sizes, seeds, world knobs), and the run uses the
record's torch thread count, so on the same machine, code and versions a run reproduces bit
for bit (``trainer.deterministic=true``, the default); where the versions or the code differ
from the record's, that is printed first, since it may explain differences. Exit status 0 when
every metric is within ``--tolerance`` (default 0: identical; 1e-5 for a run trained stacked
with other seeds, which a single re-run matches to float32 rounding), 1 otherwise, 2 for bad
input.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from tasklab.results import RESULT_FILE, git_state, package_versions, source_digest
from tasklab.runs.fingerprints import MISSING, path_fingerprint
from tasklab.runs.markers import read_json

# A run trained stacked with other seeds (``tasklab.fit.stacked``) and re-run on its own differs
# by float32 rounding of batched against unbatched products: measured <= 3e-7 per metric.
STACKED_TOLERANCE = 1e-5


def provenance_notes(record: dict[str, Any]) -> list[str]:
    notes = []
    now = package_versions()
    for name, then in (record.get("versions") or {}).items():
        if now.get(name) != then:
            notes.append(f"note: {name} was {then} when recorded, is {now.get(name)} now")
    then_git, now_git = record.get("git") or {}, git_state()
    if then_git.get("sha") and then_git.get("sha") != now_git.get("sha"):
        notes.append(
            f"note: code was at {then_git['sha'][:12]}, is at {str(now_git.get('sha'))[:12]}"
        )
    if then_git.get("dirty"):
        notes.append("note: the recorded run's checkout had uncommitted changes")
    then_source, now_source = record.get("source_digest"), source_digest()
    if then_source and then_source != now_source:
        notes.append(f"note: tasklab's source was {then_source} when recorded, is {now_source} now")
    return notes


def input_notes(record: dict[str, Any]) -> list[str]:
    """A line for each file the run read whose content differs now (or is gone)."""
    notes = []
    for key, then in (record.get("inputs") or {}).items():
        current = path_fingerprint(str(then.get("path")), str(then.get("pattern") or ""))
        if current != then.get("content"):
            state = "is gone" if current == MISSING else "has changed since"
            notes.append(
                f"note: {key}={then.get('path')} {state} the recorded run read it "
                f"({then.get('content')}, now {current}): the numbers may differ for that reason"
            )
    return notes


def metric_lines(
    recorded: dict[str, float], reproduced: dict[str, float], tolerance: float
) -> tuple[list[str], int]:
    """One line per metric, and how many differ by more than ``tolerance``."""
    names = sorted(set(recorded) | set(reproduced))
    width = max([6, *(len(n) for n in names)])
    lines = [f"{'metric':<{width}}  {'recorded':>12}  {'reproduced':>12}  {'difference':>11}"]
    off = 0
    for name in names:
        a, b = recorded.get(name), reproduced.get(name)
        if a is None or b is None:
            diff_text, bad = "missing", True
        else:
            diff = b - a
            same_nan = math.isnan(a) and math.isnan(b)
            bad = not same_nan and not abs(diff) <= tolerance
            diff_text = f"{diff:+.3g}" if diff else "0"
        off += bad
        fmt = lambda v: "-" if v is None else f"{v:.6g}"  # noqa: E731
        lines.append(f"{name:<{width}}  {fmt(a):>12}  {fmt(b):>12}  {diff_text:>11}")
    return lines, off


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tasklab-reproduce",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run_dir", type=Path, help="a run's folder (holding result.json)")
    parser.add_argument(
        "--out", type=Path, help="where the new run goes (default: reproduce/<name>/<folder>)"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="largest |difference| that counts as equal (default 0: identical; "
        f"{STACKED_TOLERANCE:g} for a run trained stacked with other seeds)",
    )
    args = parser.parse_args(argv)
    record = read_json(args.run_dir / RESULT_FILE)
    if record is None or not isinstance(record.get("config"), dict) or not record["config"]:
        print(
            f"tasklab-reproduce: error: {args.run_dir / RESULT_FILE} is missing or holds no "
            "config; pass the folder of a run that tasklab-train wrote",
            file=sys.stderr,
        )
        return 2
    if record.get("status") != "ok":
        print(f"tasklab-reproduce: the recorded run {record.get('status')}: {record.get('error')}")
    from tasklab.runner import train  # training imports are heavy; only now that input is good

    cfg = OmegaConf.create(record["config"])
    if record.get("threads"):
        cfg.trainer.threads = cfg.trainer.threads or record["threads"]
    out = args.out or Path("reproduce") / str(record.get("name")) / args.run_dir.resolve().name
    for note in provenance_notes(record) + input_notes(record):
        print(note)
    tolerance = args.tolerance
    if tolerance is None:
        tolerance = STACKED_TOLERANCE if was_stacked(record) else 0.0
        if tolerance:
            print(
                "tasklab-reproduce: this run was trained stacked with other seeds "
                "(trainer.seeds_per_fit); re-run on its own it matches to float32 rounding, so "
                f"differences up to {tolerance:g} count as equal (--tolerance 0 asks for identity)"
            )
    result = train(cfg, output_dir=out, overrides=list(record.get("overrides") or []))
    lines, off = metric_lines(record.get("metrics") or {}, result.metrics, tolerance)
    print("\n".join(lines))
    total = len(lines) - 1
    verdict = "identical" if tolerance == 0 else f"within {tolerance:g}"
    print(f"{total - off} of {total} metrics {verdict}; the new run is in {out}")
    return 0 if off == 0 else 1


def was_stacked(record: dict) -> bool:
    return any(isinstance(f, dict) and "stacked" in f for f in record.get("fits") or [])


def cli() -> None:
    sys.exit(main())


if __name__ == "__main__":
    cli()
