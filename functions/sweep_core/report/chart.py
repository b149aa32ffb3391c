"""The charts' geometry: where each level's point, the axes' ticks, the trade-off frontier and the
policy's tolerance band fall in a scatter of one relevance metric against one business metric. Pure
numbers; report/templates/scatter.svg.j2 draws them."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sweep_core.models import Sensitivity

# A point this close to the right edge has its label on its left, so the label stays inside.
_LABEL_ROOM = 50

LEVEL_COLOURS: dict[Sensitivity, str] = {
    "OFF": "#4b5563",
    "LOW": "#2563eb",
    "MEDIUM": "#d97706",
    "HIGH": "#c026d3",
}


@dataclass(frozen=True)
class Box:
    """A chart's size and the margins around its plot area, in SVG user units."""

    width: int = 360
    height: int = 260
    left: int = 58
    right: int = 16
    top: int = 30
    bottom: int = 46


BOX = Box()


@dataclass(frozen=True)
class Point:
    """One level's values on the chart's two axes (higher is better on each)."""

    sensitivity: Sensitivity
    x: float
    y: float


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class PlacedPoint:
    sensitivity: Sensitivity
    x: float
    y: float
    cx: float
    cy: float
    colour: str
    ringed: bool
    label_x: float
    label_anchor: str


@dataclass(frozen=True)
class Band:
    """The relevance the policy does not accept: from the threshold down to the bottom of the axis."""

    top: float
    height: float
    tolerance: str


@dataclass(frozen=True)
class Scatter:
    """A scatter laid out in BOX: ticks and points in SVG coordinates, the frontier as a polyline's
    points ("" when fewer than two levels are on it)."""

    x_ticks: list[Tick]
    y_ticks: list[Tick]
    points: list[PlacedPoint]
    frontier: str
    band: Band | None


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if high <= low:
        pad = abs(low) * 0.1 or 0.01
        low, high = low - pad, high + pad
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _padded(values: list[float]) -> tuple[float, float]:
    """The values' range widened by a tenth on each side, so no point or its label sits on the frame."""
    low, high = min(values), max(values)
    pad = (high - low) * 0.1
    return low - pad, high + pad


def frontier(points: list[Point]) -> list[Point]:
    """The levels no other level beats on both axes (higher is better on each), by business value."""
    return sorted(
        (
            p
            for p in points
            if not any(q.x >= p.x and q.y >= p.y and (q.x > p.x or q.y > p.y) for q in points)
        ),
        key=lambda p: p.x,
    )


def scatter(
    points: list[Point], threshold: float | None, tolerance: float, chosen: Sensitivity | None
) -> Scatter | None:
    """The layout of ``points`` (None when there is none), with the band below ``threshold`` shaded
    when the chart's relevance metric is the policy's, and the ``chosen`` level's point ringed."""
    if not points:
        return None
    xs = nice_ticks(*_padded([p.x for p in points]))
    ys = nice_ticks(*_padded([p.y for p in points] + ([threshold] if threshold is not None else [])))

    def sx(value: float) -> float:
        return BOX.left + (value - xs[0]) / (xs[-1] - xs[0]) * (BOX.width - BOX.left - BOX.right)

    def sy(value: float) -> float:
        return (
            BOX.height - BOX.bottom - (value - ys[0]) / (ys[-1] - ys[0]) * (BOX.height - BOX.top - BOX.bottom)
        )

    placed = []
    for p in points:
        near_edge = sx(p.x) > BOX.width - BOX.right - _LABEL_ROOM
        placed.append(
            PlacedPoint(
                sensitivity=p.sensitivity,
                x=p.x,
                y=p.y,
                cx=sx(p.x),
                cy=sy(p.y),
                colour=LEVEL_COLOURS[p.sensitivity],
                ringed=p.sensitivity == chosen,
                label_x=sx(p.x) + (-9 if near_edge else 9),
                label_anchor="end" if near_edge else "start",
            )
        )
    edge = frontier(points)
    return Scatter(
        x_ticks=[Tick(sx(tick), f"{tick:g}") for tick in xs],
        y_ticks=[Tick(sy(tick), f"{tick:g}") for tick in ys],
        points=placed,
        frontier=" ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in edge) if len(edge) > 1 else "",
        band=None
        if threshold is None
        else Band(top=sy(threshold), height=sy(ys[0]) - sy(threshold), tolerance=f"{tolerance:.0%}"),
    )
