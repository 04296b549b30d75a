"""Write scikit-learn's handwritten digits as a tasklab data file (the README's template).

python scripts/export_digits.py                 # data/digits.npz, 30% of each task's labels "?"
python scripts/export_digits.py --missing 0 --out data/digits_full.npz
"""

from __future__ import annotations

import argparse

import numpy as np

from tasklab.examples.digits import TASKS, digits_arrays, write_npz


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/digits.npz", help="where to write the archive")
    parser.add_argument(
        "--missing", type=float, default=0.3, help="share of each task's labels left out (-1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the missing labels")
    args = parser.parse_args()
    arrays = digits_arrays(args.missing, args.seed)
    path = write_npz(args.out, arrays)
    known = {t: int((arrays[f"y_{t}"] >= 0).sum()) for t in TASKS}
    print(f"wrote {path}: x {arrays['x'].shape} {arrays['x'].dtype}; labelled rows {known}")
    print(
        f"mean pixel {np.mean(arrays['x']):.3f}; run: tasklab-train -m experiment=digits_mtl_vs_stl"
    )


if __name__ == "__main__":
    main()
