"""A line chart of one numeric metadata key across an artifact's versions, laid out for an inline SVG.

The server computes every coordinate; the template draws a path, one linked
point per version (with a `<title>` tooltip) and the axis labels. No
JavaScript, no plotting library, and only numbers and escaped text reach the
page.
"""
from __future__ import annotations

from dataclasses import dataclass

from artrepo.diff import flatten, is_number

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 44
MAX_POINTS = 200


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    label: str  # name:version
    value: float
    href: str


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    points: list[Point]
    path: str
    y_ticks: list[tuple[float, str]]  # (y, text)
    x_labels: list[tuple[float, str, str]]  # (x, text, text-anchor)
    cut: int  # versions left out (older than the newest MAX_POINTS)
    width, height = WIDTH, HEIGHT  # of every chart (class attributes, not fields)
    plot = (LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM)  # the plotting area: x0, y0, x1, y1


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) < 1e15 else f"{value:.4g}"


def metadata_chart(versions: list, metadata: list[dict], key: str, total: int) -> Chart | None:
    """`versions` (catalog rows, newest first; of `total`) with their metadata; None when no version has `key`
    as a number."""
    kept = list(zip(versions, metadata))[:MAX_POINTS][::-1]  # oldest first, left to right
    series = [(v, flatten(m).get(key)) for v, m in kept]
    series = [(v, float(x)) for v, x in series if is_number(x)]
    if not series:
        return None
    low, high = min(x for _, x in series), max(x for _, x in series)
    span = (high - low) or abs(high) or 1.0
    if low == high:
        low, high = low - span / 2, high + span / 2
    x0, y0, x1, y1 = Chart.plot
    step = (x1 - x0) / max(1, len(series) - 1)

    def y_of(value: float) -> float:
        return y1 - (value - low) / (high - low) * (y1 - y0)

    points = [Point(round(x0 + i * step if len(series) > 1 else (x0 + x1) / 2, 1), round(y_of(x), 1),
                    f"{v.name}:{v.version}", x, f"/versions/{v.id}") for i, (v, x) in enumerate(series)]
    path = "M" + " L".join(f"{p.x} {p.y}" for p in points)
    ticks = [(round(y_of(t), 1), _number(t)) for t in (low, (low + high) / 2, high)]
    labels = [(points[0].x, points[0].label.rsplit(":", 1)[1], "start")]
    if len(points) > 1:
        labels.append((points[-1].x, points[-1].label.rsplit(":", 1)[1], "end"))
    return Chart(key, points, path, ticks, labels, max(0, total - MAX_POINTS))
