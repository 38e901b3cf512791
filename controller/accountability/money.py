"""Whole-rupiah arithmetic: shares that add up exactly (largest remainder), rounding, and the
Indonesian way of writing an amount ("Rp 1.234.567")."""

from __future__ import annotations

from collections.abc import Mapping

from controller.units import format_idr as idr

__all__ = ["idr", "largest_remainder", "round_half_up"]


def largest_remainder(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`total` split in proportion to integer `weights`, in whole units that add up to `total`
    exactly: each gets its floor, the units left go to the largest remainders (ties: by key)."""
    whole = sum(weights.values())
    if whole <= 0:
        return {key: 0 for key in weights}
    floors = {key: total * w // whole for key, w in weights.items()}
    left = total - sum(floors.values())
    order = sorted(weights, key=lambda k: (-(total * weights[k] % whole), k))
    for key in order[:left]:
        floors[key] += 1
    return floors


def round_half_up(value: float) -> int:
    """Rounded to whole rupiah, halves upward (never banker's rounding)."""
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)
