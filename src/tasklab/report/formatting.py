"""Numbers in terminal lines and warnings: enough digits to tell a small effect from zero."""

from __future__ import annotations

import math


def signed(value: float) -> str:
    """``+0.149`` for most values; three significant digits below 0.01 in size (a pipeline
    stage's error of a few thousandths would otherwise print as ``+0.000``)."""
    if math.isnan(value):
        return "nan"
    if value != 0 and abs(value) < 0.01:
        return f"{value:+.3g}"
    return f"{value:+.3f}"
