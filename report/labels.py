"""Map labels that never overlap: greedy placement with a bounding-box collision test.

Labels are placed one by one in priority order (the busiest cell first, then venues, area names
and streets). Each tries a few positions around its anchor, nearest first, and takes the first
whose box is inside the panel and clear of every marker and every label already placed; a label
with no such position is dropped (its place is still named in the tables). The report has no
script, so text cannot be measured in the browser: widths are estimated from DejaVu Sans, the
widest of the usual system fonts (and Chromium's default on Linux), so a real label is never wider
than its box.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Advance widths of DejaVu Sans in ems, by character class; anything else counts as wide.
_NARROW = set("ijlI!'.,:;|`’")
_SLIM = set("frt()-/[]")
_WIDE_LOWER = {"m": 0.98, "w": 0.82}
_WIDE_UPPER = {"M": 0.87, "W": 0.99}
PADDING = 2.0  # around every label box: the white halo drawn behind the text needs it


def text_width(text: str, size: float, bold: bool = False) -> float:
    """An upper estimate of the rendered width of `text` at `size` px."""
    ems = 0.0
    for char in text:
        if char == " ":
            ems += 0.32
        elif char in _NARROW:
            ems += 0.30
        elif char in _SLIM:
            ems += 0.41
        elif char in _WIDE_LOWER:
            ems += _WIDE_LOWER[char]
        elif char in _WIDE_UPPER:
            ems += _WIDE_UPPER[char]
        elif char.isdigit():
            ems += 0.64
        elif char.islower():
            ems += 0.64
        elif char.isupper():
            ems += 0.79
        else:
            ems += 1.0
    return ems * size * (1.1 if bold else 1.0)


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def inside(self, other: Box) -> bool:
        return self.x0 >= other.x0 and self.x1 <= other.x1 and self.y0 >= other.y0 and self.y1 <= other.y1

    @staticmethod
    def around(x: float, y: float, radius: float) -> Box:
        return Box(x - radius, y - radius, x + radius, y + radius)


def text_box(x: float, y: float, width: float, size: float, anchor: str) -> Box:
    """The box of text whose baseline starts (anchor 'start'), centres ('middle') or ends ('end')
    at (x, y): ascenders reach 0.8 em above the baseline, descenders 0.25 em below."""
    left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    return Box(left - PADDING, y - 0.8 * size - PADDING, left + width + PADDING, y + 0.25 * size + PADDING)


@dataclass
class Label:
    """A label to place: `text` near the anchor (x, y); `radius` is the anchor's marker (0 for a
    bare point, where the text is centred on the point). Once placed: `tx`, `ty`, `anchor` (SVG
    text-anchor) and, when the text stands off from its marker, `leader`."""

    text: str
    x: float
    y: float
    kind: str  # "cell", "venue", "area" or "street": how the template styles it
    size: float = 12.0
    bold: bool = False
    radius: float = 0.0
    placed: bool = False
    tx: float = 0.0
    ty: float = 0.0
    anchor: str = "start"
    leader: tuple[float, float] | None = None  # where a line back to the marker meets the text
    box: Box | None = field(default=None, repr=False)

    def candidates(self) -> Iterable[tuple[float, float, str]]:
        """Positions to try, nearest first: beside the marker (right, left, above, below, then the
        diagonals), then the same further out, joined to the marker by a leader line."""
        x, y, size = self.x, self.y, self.size
        if not self.radius:  # a bare point (street, area): on it, then just above or below
            for dy in (0.0, -0.9 * size, 0.9 * size):
                yield x, y + 0.35 * size + dy, "middle"
            return
        for step in (0.0, 14.0, 30.0):
            gap = self.radius + 3 + step
            d = 0.7 * gap
            above, below = -0.25 * size, 0.8 * size  # baselines whose text ends/starts at the offset
            yield x + gap, y + 0.35 * size, "start"
            yield x - gap, y + 0.35 * size, "end"
            yield x, y - gap + above, "middle"
            yield x, y + gap + below, "middle"
            yield x + d, y - d + above, "start"
            yield x - d, y - d + above, "end"
            yield x + d, y + d + below, "start"
            yield x - d, y + d + below, "end"


def place_labels(
    labels: Sequence[Label], bounds: Box, obstacles: Iterable[Box] = (), limit: int | None = None
) -> list[Label]:
    """Place `labels` in order, each at its first candidate inside `bounds` that overlaps no
    obstacle and no label placed before it, until `limit` are placed. Returns those placed; the
    others stay unplaced."""
    taken = list(obstacles)
    placed: list[Label] = []
    for label in labels:
        if limit is not None and len(placed) >= limit:
            break
        width = text_width(label.text, label.size, label.bold)
        for tx, ty, anchor in label.candidates():
            box = text_box(tx, ty, width, label.size, anchor)
            if box.inside(bounds) and not any(box.overlaps(other) for other in taken):
                label.placed, label.tx, label.ty, label.anchor, label.box = (
                    True,
                    round(tx, 1),
                    round(ty, 1),
                    anchor,
                    box,
                )
                # Further than beside its marker: a leader line to the nearest point of the box.
                lx, ly = min(max(label.x, box.x0), box.x1), min(max(label.y, box.y0), box.y1)
                if label.radius and (lx - label.x) ** 2 + (ly - label.y) ** 2 > (label.radius + 6) ** 2:
                    label.leader = (round(lx, 1), round(ly, 1))
                taken.append(box)
                placed.append(label)
                break
    return placed
