"""Numbers as every report prints them (terminal, Markdown, HTML, results pages): one
formatter, so a difference reads the same everywhere. Signed numbers carry a true minus sign
(U+2212), which does not break a line from its number; CSV files keep raw numbers."""

from __future__ import annotations

import math

P_FLOOR = 1e-6


def p_text(p: float, name: str = "p") -> str:
    """``p=0.012``, or ``p<1e-06`` below that: a p far in the tail says "certain at this
    family size", and its digits (a normal tail's) would claim a precision nobody has."""
    return f"{name}<{P_FLOOR:.0e}" if p < P_FLOOR else f"{name}={p:.2g}"


MINUS = "\u2212"


def signed(value: float, decimals: int = 3) -> str:
    """``+0.149`` / ``−0.149`` for most values; three significant digits below 0.01 in size (a
    pipeline stage's error of a few thousandths would otherwise print as ``+0.000``)."""
    if math.isnan(value):
        return "nan"
    if value != 0 and abs(value) < 0.01 and decimals == 3:
        text = f"{value:+.3g}"
    else:
        text = f"{value:+.{decimals}f}"
    return text.replace("-", MINUS)


def signed_interval(low: float, high: float) -> str:
    """``[−0.058, −0.037]``, or ``no CI`` where there is none."""
    return "no CI" if math.isnan(low) else f"[{signed(low)}, {signed(high)}]"
