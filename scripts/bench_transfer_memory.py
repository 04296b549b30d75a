"""Peak memory of transfer's stage 1 at n_source=1,000,000 against n_source=1,000.

Each size runs the real pre-training (``regime=transfer``, the experiment's model, a fixed
number of steps) in a fresh process, which reports its own peak resident memory; the parent
prints both and the difference, for ``--repeats`` alternating pairs. The world renders every
batch on demand, so a million source examples should cost only their index and label mask,
not their images (target: < 200 MB more).

    python scripts/bench_transfer_memory.py [--steps 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (1_000, 1_000_000)
LIMIT_MB = 200


def child(n_source: int, steps: int, cache_dir: str) -> None:
    import warnings

    from hydra import compose, initialize_config_dir

    from tasklab.conf import CONF_DIR
    from tasklab.config import register_configs
    from tasklab.runner import train

    warnings.filterwarnings("ignore")
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[
                "experiment=transfer_1m_vs_1k",
                "logger=none",
                "trainer.progress_bar=false",
                f"regime.n_source={n_source}",
                f"regime.source_min_steps={steps}",
                f"regime.source_max_steps={steps}",
                f"regime.cache_dir={cache_dir}",
                "data.n_train=100",
                "trainer.max_steps=1",
            ],
        )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = train(cfg, output_dir=Path(out))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    stage1 = result.fits[0]["stage1"]
    print(
        json.dumps(
            {
                "n_source": n_source,
                "peak_mb": peak_mb,
                "stage1_steps": stage1["steps"],
                "stage1_s": stage1["wall_time_s"],
                "total_s": time.perf_counter() - start,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.steps, args.cache_dir)
        return
    # Peak RSS varies by ~±100 MB between identical processes (allocator, import order), so
    # the pair is measured ``--repeats`` times, alternating, and the difference is a range.
    extras = []
    with tempfile.TemporaryDirectory() as cache:
        for _ in range(args.repeats):
            rows = {}
            for n in SIZES:
                command = [sys.executable, __file__, "--child", str(n), "--steps", str(args.steps)]
                done = subprocess.run(
                    [*command, "--cache-dir", cache], capture_output=True, text=True, check=True
                )
                rows[n] = json.loads(done.stdout.strip().splitlines()[-1])
            for n, row in rows.items():
                print(
                    f"n_source={n:>9,}  peak {row['peak_mb']:7.1f} MB  stage 1: "
                    f"{row['stage1_steps']} steps in {row['stage1_s']:.1f} s"
                )
            extras.append(rows[SIZES[1]]["peak_mb"] - rows[SIZES[0]]["peak_mb"])
    verdict = "within" if max(extras) < LIMIT_MB else "OVER"
    print(
        f"1,000,000 vs 1,000: median {statistics.median(extras):+.1f} MB, range "
        f"[{min(extras):+.1f}, {max(extras):+.1f}] MB over {len(extras)} pairs "
        f"({verdict} the {LIMIT_MB} MB target at the worst pair)"
    )


if __name__ == "__main__":
    main()
