"""Small inline SVG charts (no scripts, no external assets) for the reports; fpdf2 can
draw the same SVG into the PDF."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

FONT = "font-family=\"Helvetica, Arial, sans-serif\""


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


def line_chart(series: Sequence[tuple[str, str, Sequence[float], bool]], x_labels: Sequence[str],
               unit: str, scale: float = 1e6, width: int = 640, height: int = 220,
               title: str = "") -> str:
    """Lines over days: each series is (label, colour, values in base units, dashed)."""
    left, right, top, bottom = 52, 12, 34, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((v for _, _, values, _ in series for v in values), default=0.0) / scale
    y_max = _nice_max(peak * 1.05)
    n = max(1, len(x_labels) - 1)

    def xy(i: int, v: float) -> str:
        return f"{left + plot_w * i / n:.1f},{top + plot_h * (1 - (v / scale) / y_max):.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">']
    if title:
        parts.append(f'<text x="{left}" y="12" font-size="12" {FONT} '
                     f'fill="#222">{escape(title)}</text>')
    for k in range(5):
        y = top + plot_h * k / 4
        value = y_max * (1 - k / 4)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     'stroke="#ddd" stroke-width="1"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="9" {FONT} '
                     f'text-anchor="end" fill="#555">{value:g}</text>')
    parts.append(f'<text x="4" y="{top - 4}" font-size="9" {FONT} fill="#555">'
                 f'{escape(unit)}</text>')
    every = max(1, len(x_labels) // 10)
    for i, label in enumerate(x_labels):
        if i % every == 0:
            x = left + plot_w * i / n
            parts.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="9" {FONT} '
                         f'text-anchor="middle" fill="#555">{escape(label)}</text>')
    legend_x = left
    for label, colour, values, dashed in series:
        if values:
            points = " ".join(xy(i, v) for i, v in enumerate(values))
            dash = ' stroke-dasharray="5,3"' if dashed else ""
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                         f'stroke-width="1.8"{dash}/>')
        parts.append(f'<rect x="{legend_x}" y="{height - 12}" width="10" height="4" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="{height - 7}" font-size="9" {FONT} '
                     f'fill="#222">{escape(label)}</text>')
        legend_x += 24 + 6 * len(label)
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(items: Sequence[tuple[str, float, str]], unit: str, width: int = 640,
              marks: Sequence[tuple[float, str]] = (), title: str = "") -> str:
    """Horizontal bars: (label, value, colour); `marks` are vertical reference lines."""
    row, left, right, top = 16, 170, 40, 24
    height = top + row * len(items) + 24
    plot_w = width - left - right
    x_max = _nice_max(max([v for _, v, _ in items] + [m for m, _ in marks] + [0.0]) * 1.05)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img">']
    if title:
        parts.append(f'<text x="4" y="14" font-size="12" {FONT} fill="#222">'
                     f'{escape(title)}</text>')
    for i, (label, value, colour) in enumerate(items):
        y = top + i * row
        w = plot_w * value / x_max
        parts.append(f'<text x="{left - 6}" y="{y + 11}" font-size="9" {FONT} '
                     f'text-anchor="end" fill="#222">{escape(label[:34])}</text>')
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 5}" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 11}" font-size="9" {FONT} '
                     f'fill="#333">{value:.0f}</text>')
    bottom = top + row * len(items)
    for value, label in marks:
        x = left + plot_w * value / x_max
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                     'stroke="#c0392b" stroke-width="1" stroke-dasharray="4,3"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 12}" font-size="9" {FONT} '
                     f'text-anchor="middle" fill="#c0392b">{escape(label)}</text>')
    parts.append(f'<text x="{left + plot_w}" y="{bottom + 22}" font-size="9" {FONT} '
                 f'text-anchor="end" fill="#555">{escape(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)
