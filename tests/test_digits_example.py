"""The shipped real-data example: scikit-learn's digits written in the data-file format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tasklab.data.file_arrays import load_npz
from tasklab.examples.digits import digits_arrays

ROOT = Path(__file__).resolve().parents[1]


def test_derived_tasks_agree_with_the_digit_wherever_both_are_known():
    arrays = digits_arrays(missing=0.3, seed=0)
    digit, parity, gt4 = arrays["y_digit"], arrays["y_parity"], arrays["y_gt4"]
    both = (digit >= 0) & (parity >= 0) & (gt4 >= 0)
    np.testing.assert_array_equal(parity[both], digit[both] % 2)
    np.testing.assert_array_equal(gt4[both], (digit[both] > 4).astype(int))
    assert arrays["x"].shape == (1797, 1, 8, 8) and 0 <= arrays["x"].min() < arrays["x"].max() <= 1
    for name in ("y_digit", "y_parity", "y_gt4"):  # each task has its own gaps, ~30%
        assert 0.27 < (arrays[name] == -1).mean() < 0.33
    assert not np.array_equal(digit == -1, parity == -1)
    assert (digits_arrays(missing=0.0)["y_digit"] >= 0).all()
    with pytest.raises(ValueError, match=r"missing=1\.0 must be in"):
        digits_arrays(missing=1.0)


def test_the_export_script_writes_a_file_that_loads_with_gaps_as_missing(tmp_path):
    out = tmp_path / "sub" / "digits.npz"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "export_digits.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {out}" in proc.stdout
    table = load_npz(out, class_tasks=["digit", "parity", "gt4"])
    assert np.isnan(table.targets["digit"]).sum() == (digits_arrays()["y_digit"] == -1).sum()
    assert list(tmp_path.joinpath("sub").iterdir()) == [out]  # no temporary file left behind
