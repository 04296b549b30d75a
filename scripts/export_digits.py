"""Write scikit-learn's handwritten digits as a tasklab data file (docs/guide/own-data.md).

python scripts/export_digits.py                 # data/digits.npz, 30% of each task's labels "?"
python scripts/export_digits.py --missing 0 --out data/digits_full.npz
python scripts/export_digits.py --noise-task --out data/digits_noise.npz  # + a negative control
"""

from __future__ import annotations

import argparse

import numpy as np

from tasklab.examples.digits import digits_arrays, write_npz


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/digits.npz", help="where to write the archive")
    parser.add_argument(
        "--missing", type=float, default=0.3, help="share of each task's labels left out (-1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the missing labels")
    parser.add_argument(
        "--noise-task",
        action="store_true",
        help="add y_noise, parity labels permuted across rows: a task nothing can learn",
    )
    args = parser.parse_args()
    arrays = digits_arrays(args.missing, args.seed, args.noise_task)
    path = write_npz(args.out, arrays)
    known = {t[2:]: int((a >= 0).sum()) for t, a in arrays.items() if t.startswith("y_")}
    print(f"wrote {path}: x {arrays['x'].shape} {arrays['x'].dtype}; labelled rows {known}")
    print(
        f"mean pixel {np.mean(arrays['x']):.3f}; run: tasklab-train -m experiment=digits_mtl_vs_stl"
    )


if __name__ == "__main__":
    main()
