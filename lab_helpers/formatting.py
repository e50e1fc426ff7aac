"""Numbers as a learner reads them: shares as percentages, rounded the same way in every sentence and table."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def percent(share: float, decimals: int = 1) -> str:
    """0.475 -> '47.5 %', 0.48 -> '48 %': half rounds up everywhere, and a whole number shows no decimals."""
    value = Decimal(repr(float(share) * 100)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{'0' if text == '-0' else text} %"
