"""The colours the map and the charts share, and the values a colour legend shows."""

from __future__ import annotations

import math
from dataclasses import dataclass

# A sequential ramp (ColorBrewer YlOrRd, 5 classes): light = few, dark red = many. It reads in
# greyscale print too, and suppressed cells are hatched grey so they never look like "few".
RAMP = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
SUPPRESSED_FILL = "#d9d9d9"
ZERO_FILL = "#f4f4f4"
# Two colour-blind-safe series colours (orange / purple) used wherever ED and police appear together.
ED_COLOUR = "#e66100"
POLICE_COLOUR = "#5d3a9b"


@dataclass
class LegendSwatch:
    fill: str
    label: str


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def ramp_colour(t: float) -> str:
    """The ramp at t in [0, 1], interpolated between its stops."""
    t = min(max(t, 0.0), 1.0) * (len(RAMP) - 1)
    low = min(int(t), len(RAMP) - 2)
    a, b = _rgb(RAMP[low]), _rgb(RAMP[low + 1])
    f = t - low
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def text_colour(fill: str) -> str:
    """Black or white, whichever reads on the fill."""
    r, g, b = _rgb(fill)
    return "#ffffff" if (0.299 * r + 0.587 * g + 0.114 * b) < 140 else "#1a1a1a"


def legend_values(vmin: int, vmax: int, steps: int = 5, root: bool = False, base: int = 1) -> list[int]:
    """Values from the smallest published count to the largest, for a colour legend, in steps of
    `base` (the rounding base when counts are rounded; never a value below the smallest, which
    would suggest counts that cannot be published). Spaced on a square-root scale when the
    colours are."""
    f, inv = (math.sqrt, lambda v: v * v) if root else ((lambda v: v), (lambda v: v))
    lo, hi = f(vmin), f(vmax)
    base = max(int(base), 1)
    values = {round(inv(lo + (hi - lo) * k / (steps - 1)) / base) * base for k in range(steps)}
    return sorted(v for v in values | {vmin, vmax} if vmin <= v <= vmax)
