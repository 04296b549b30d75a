"""Numbers in terminal lines and warnings: enough digits to tell a small effect from zero."""

from __future__ import annotations

import math

P_FLOOR = 1e-6


def p_text(p: float, name: str = "p") -> str:
    """``p=0.012``, or ``p<1e-06`` below that: a p far in the tail says "certain at this
    family size", and its digits (a normal tail's) would claim a precision nobody has."""
    return f"{name}<{P_FLOOR:.0e}" if p < P_FLOOR else f"{name}={p:.2g}"


def signed(value: float) -> str:
    """``+0.149`` for most values; three significant digits below 0.01 in size (a pipeline
    stage's error of a few thousandths would otherwise print as ``+0.000``)."""
    if math.isnan(value):
        return "nan"
    if value != 0 and abs(value) < 0.01:
        return f"{value:+.3g}"
    return f"{value:+.3f}"
