"""Charts drawn on the server as inline SVG: no chart library, no script, nothing fetched.

A chart is a few dozen points, so an SVG string is small and renders before any script
would have run; every label passes through `escape`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#4b5563")
W, H = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 28


@dataclass(slots=True, frozen=True)
class Series:
    label: str
    points: Sequence[tuple[float, float | None]]  # (unix time, value); None: no data


def _nice(value: float) -> float:
    """A round axis maximum at or above `value` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    step = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if step * factor >= value * 0.999999:
            return step * factor
    return value


def _fmt(value: float, unit: str) -> str:
    if unit == "$":
        return f"${value:,.2f}" if value >= 1 else f"${value:.6f}".rstrip("0").rstrip(".")
    if unit == "%":
        return f"{value:.0f}%"
    return f"{value:,.0f}{unit}" if value >= 10 else f"{value:.1f}{unit}".replace(".0", "")


def _when(stamp: float, span: float) -> str:
    moment = dt.datetime.fromtimestamp(stamp, dt.UTC)
    return moment.strftime("%H:%M" if span <= 2 * 86400 else "%m-%d")


def line_chart(series: Sequence[Series], *, start: float, end: float, unit: str = "",
               title: str = "") -> Markup:
    """Lines over time with a legend; an empty chart says so."""
    values = [v for s in series for _, v in s.points if v is not None]
    top = _nice(max(values) if values else 0)
    span = max(end - start, 1.0)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - start) / span * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - v / top * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">']
    for i in range(5):
        v = top * i / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" '
                     f'y2="{y(v):.1f}"/><text class="axis" x="{LEFT - 6}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end">{escape(_fmt(v, unit))}</text>')
    for i in range(5):
        t = start + span * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(f'<text class="axis" x="{x(t):.1f}" y="{H - 8}" text-anchor="{anchor}">'
                     f'{escape(_when(t, span))}</text>')
    for n, s in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        pts = [(x(t), y(v)) for t, v in s.points if v is not None]
        if len(pts) == 1:
            parts.append(f'<circle data-series="{escape(s.label)}" cx="{pts[0][0]:.1f}" '
                         f'cy="{pts[0][1]:.1f}" r="3.5" fill="{color}"/>')
        elif pts:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            parts.append(f'<polyline class="series" data-series="{escape(s.label)}" '
                         f'points="{path}" stroke="{color}"/>')
    if not values:
        parts.append(f'<text class="empty" x="{W / 2}" y="{H / 2}" text-anchor="middle">'
                     'no requests in this range</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i class="c{n % len(PALETTE)}"></i>{escape(s.label)}</span>'
        for n, s in enumerate(series))
    return Markup(f'<figure class="chart-box"><figcaption>{escape(title)}</figcaption>'
                  f'{"".join(parts)}<div class="legend">{legend}</div></figure>')


def bar_chart(rows: Sequence[tuple[str, float]], *, unit: str = "", title: str = "",
              ) -> Markup:
    """Horizontal bars, largest first, for a breakdown by tenant, app, model…"""
    rows = sorted(rows, key=lambda r: -r[1])[:10]
    top = _nice(max((v for _, v in rows), default=0))
    row_h = 22
    height = max(row_h * len(rows) + 8, 40)
    label_w, bar_w = 180, W - 180 - 90
    parts = [f'<svg class="chart bars" viewBox="0 0 {W} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value) in enumerate(rows):
        ty = 4 + i * row_h
        width = max(value / top * bar_w, 1.0)
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(
            f'<text class="axis" x="{label_w - 8}" y="{ty + 15}" text-anchor="end">'
            f'{escape(short)}</text><rect x="{label_w}" y="{ty + 3}" width="{width:.1f}" '
            f'height="{row_h - 6}" fill="{PALETTE[0]}"/><text class="axis" '
            f'x="{label_w + width + 6:.1f}" y="{ty + 15}">{escape(_fmt(value, unit))}</text>')
    if not rows:
        parts.append(f'<text class="empty" x="{W / 2}" y="24" text-anchor="middle">'
                     'nothing in this range</text>')
    parts.append("</svg>")
    return Markup(f'<figure class="chart-box"><figcaption>{escape(title)}</figcaption>'
                  f'{"".join(parts)}</figure>')
