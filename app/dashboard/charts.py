"""Charts drawn on the server as SVG: no script, nothing to download, readable
without JavaScript, and allowed by the strict CSP (presentation attributes,
no style attributes). Each chart names itself for screen readers; the page
puts the same numbers in a table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    css: str = "bar"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    label = escape(title)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{label}</title>{''.join(body)}</svg>"
    )


def hourly_bars(
    hours: Sequence[datetime], series: Sequence[tuple[str, str, Sequence[int]]], title: str
) -> Markup:
    """Stacked bars, one per hour; `series` is (name, css class, values)."""
    width, height, left, bottom, top = 840, 180, 36, 22, 8
    plot_w, plot_h = width - left - 4, height - bottom - top
    totals = [sum(values[i] for _, _, values in series) for i in range(len(hours))]
    peak = max(totals, default=0) or 1
    step = plot_w / max(len(hours), 1)
    body = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 4}" y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for index, hour in enumerate(hours):
        x = left + index * step
        base = float(top + plot_h)
        for name, css, values in series:
            value = values[index]
            if value <= 0:
                continue
            bar_h = max(plot_h * value / peak, 1.0)
            base -= bar_h
            body.append(
                f'<rect class="{css}" x="{x:.1f}" y="{base:.1f}" width="{max(step - 1, 1):.1f}" '
                f'height="{bar_h:.1f}"><title>{escape(hour.strftime("%a %d %H:00"))} UTC: '
                f"{value} {escape(name)}</title></rect>"
            )
        if hour.hour == 0:
            body.append(
                f'<text class="tick" x="{x:.1f}" y="{height - 6}">{escape(hour.strftime("%a %d"))}</text>'
            )
    return _svg(width, height, title, body)


def horizontal_bars(bars: Sequence[Bar], title: str) -> Markup:
    """One labelled bar per item, longest first as given."""
    row, label_w, width = 26, 190, 640
    height = max(len(bars), 1) * row + 6
    peak = max((b.value for b in bars), default=0) or 1
    body = []
    for index, bar in enumerate(bars):
        y = index * row + 4
        bar_w = (width - label_w - 70) * bar.value / peak
        body.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(bar.label)}</text>'
            f'<rect class="{escape(bar.css)}" x="{label_w}" y="{y}" width="{max(bar_w, 1 if bar.value else 0):.1f}" height="{row - 8}"/>'
            f'<text class="value" x="{label_w + bar_w + 6:.1f}" y="{y + 15}">{bar.value}</text>'
        )
    if not bars:
        body.append(f'<text class="label" x="8" y="18">{escape("none")}</text>')
    return _svg(width, height, title, body)
