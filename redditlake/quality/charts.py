"""Inline SVG charts for the quality report: no script, no external file, so the page opens offline.

Axes come from the data's real domain (scores 0–1, counts from 0), a target is a labelled
dashed line, and legends and labels get the room their text needs (measured with a
conservative width per character), so nothing is cut.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from datetime import date, timedelta

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
WIDTH = 720
FONT = 12
CHAR = 7.5  # px per character at FONT, above system-ui's widest average: labels sized with it fit
PLOT_H = 200
SCORE_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Ticks from 0 to a round number at or above ``high`` (1, 2, 2.5 or 5 times a power of 10)."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(high / step - 1e-9) + 1)]


def fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _text_width(text: str) -> float:
    return len(text) * CHAR


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start", fill: str = "#333",
          baseline: str = "middle") -> str:
    return (f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" font-size="{FONT}" fill="{fill}" text-anchor="{anchor}" '
            f'dominant-baseline="{baseline}">{html.escape(text)}</text>')


def _svg(title: str, height: float, body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
            f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{html.escape(title)}" '
            f'font-family="system-ui, sans-serif">')
    return f"<h3>{html.escape(title)}</h3>{head}<rect width=\"{WIDTH}\" height=\"{height:.0f}\" fill=\"#fff\"/>" \
           + "".join(body) + "</svg>"


def _legend(names: Sequence[str], left: float, top: float, right: float) -> tuple[list[str], float]:
    """Legend items in rows that wrap before ``right``; (svg parts, height used)."""
    parts, x, y = [], left, top + 9
    for i, name in enumerate(names):
        item = 16 + _text_width(name) + 18
        if x > left and x + item > right:
            x, y = left, y + 18
        color = COLORS[i % len(COLORS)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 5:.1f}" width="12" height="10" fill="{color}"/>')
        parts.append(_text(x + 16, y, name, "legend"))
        x += item
    return parts, (y - top + 12) if names else 0


def line_chart(title: str, series: dict[str, list[tuple[date, float]]], ticks: Sequence[float],
               target: float | None = None, target_label: str = "") -> str:
    """Values per day, one line per series, on a y axis from ``ticks[0]`` to ``ticks[-1]``."""
    days = sorted({d for pts in series.values() for d, _ in pts})
    lo, hi = ticks[0], ticks[-1]
    left = max(_text_width(fmt(t)) for t in ticks) + 14
    # The target's label sits right of the plot, where no line runs through it.
    right, top = WIDTH - 16 - (_text_width(target_label) + 6 if target is not None else 0), 14
    bottom = top + PLOT_H
    span = max(1, (days[-1] - days[0]).days)

    def x(d: date) -> float:
        return left + (right - left) * (d - days[0]).days / span

    def y(v: float) -> float:
        return bottom - (bottom - top) * (v - lo) / (hi - lo)

    body = _y_axis(ticks, y, left, right)
    for d in _day_ticks(days[0], span):
        first, last = d == days[0], d == days[-1]
        body.append(_text(x(d), bottom + 14, d.isoformat() if first else d.strftime("%m-%d"), "xtick",
                          "start" if first else "end" if last else "middle"))
    if target is not None:
        body += _target_h(y(target), left, right, target_label)
    names = sorted(series)
    for i, name in enumerate(names):
        color = COLORS[i % len(COLORS)]
        pts = sorted(series[name])
        coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in pts)
        body.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        if len(days) <= 31:  # beyond a month the dots hide the line
            body += [f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"><title>{html.escape(name)} '
                     f'{d}: {fmt(v)}</title></circle>' for d, v in pts]
    legend, used = _legend(names, left, bottom + 28, right)
    return _svg(title, bottom + 28 + used + 6, body + legend)


def bar_chart(title: str, bars: Sequence[tuple[str, float]], ticks: Sequence[float],
              target: float | None = None, target_label: str = "", value_format: Callable[[float], str] = fmt) -> str:
    """One horizontal bar per name on an x axis from ``ticks[0]`` to ``ticks[-1]``, value at its end."""
    lo, hi = ticks[0], ticks[-1]
    left = max(_text_width(name) for name, _ in bars) + 12
    right = WIDTH - max(_text_width(value_format(v)) for _, v in bars) - 14
    top, row = 24, 24
    bottom = top + row * len(bars)

    def x(v: float) -> float:
        return left + (right - left) * (v - lo) / (hi - lo)

    body = []
    for t in ticks:
        body.append(f'<line class="grid" data-value="{fmt(t)}" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" '
                    f'y2="{bottom}" stroke="#e3e3e3"/>')
        body.append(_text(x(t), bottom + 14, fmt(t), "xtick", "middle"))
    for i, (name, value) in enumerate(bars):
        mid = top + row * i + row / 2
        color = COLORS[1] if target is not None and value < target else COLORS[0]  # below target: red
        body.append(_text(left - 8, mid, name, "label", "end"))
        body.append(f'<rect class="bar" data-name="{html.escape(name)}" x="{left:.1f}" y="{mid - 8:.1f}" '
                    f'width="{max(0.0, x(value) - left):.1f}" height="16" fill="{color}"/>')
        body.append(_text(x(value) + 6, mid, value_format(value), "value"))
    if target is not None:
        tx = x(target)
        body.append(f'<line class="target" x1="{tx:.1f}" x2="{tx:.1f}" y1="{top - 4}" y2="{bottom}" stroke="#c00" '
                    f'stroke-width="1.5" stroke-dasharray="5 3"/>')
        body.append(_text(tx, top - 12, target_label, "target-label", "middle", "#c00"))
    return _svg(title, bottom + 24, body)


def _day_ticks(start: date, span: int) -> list[date]:
    """At most 7 evenly spaced days from ``start`` to ``start + span``, both ends included."""
    step = max(1, math.ceil(span / 6))
    offsets = list(range(0, span + 1, step))
    if offsets[-1] != span:  # the last day replaces a tick too close to it
        offsets = offsets[:-1] if span - offsets[-1] < step / 2 and len(offsets) > 1 else offsets
        offsets.append(span)
    return [start + timedelta(days=i) for i in offsets]


def _y_axis(ticks: Sequence[float], y: Callable[[float], float], left: float, right: float) -> list[str]:
    out = []
    for t in ticks:
        out.append(f'<line class="grid" data-value="{fmt(t)}" x1="{left:.1f}" x2="{right:.1f}" y1="{y(t):.1f}" '
                   f'y2="{y(t):.1f}" stroke="#e3e3e3"/>')
        out.append(_text(left - 6, y(t), fmt(t), "ytick", "end"))
    return out


def _target_h(ty: float, left: float, right: float, label: str) -> list[str]:
    return [f'<line class="target" x1="{left:.1f}" x2="{right:.1f}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#c00" '
            f'stroke-width="1.5" stroke-dasharray="5 3"/>',
            _text(right + 6, ty, label, "target-label", "start", "#c00")]
