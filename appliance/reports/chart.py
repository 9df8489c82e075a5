"""A report's chart as inline SVG made here (no JS library): bars for
categories, a line for a time series. It shows one measure over the
report's one dimension; empty values count as 0."""
from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT = 720, 260
PAD_L, PAD_R, PAD_T, PAD_B = 56, 12, 14, 58


def _scale(value: float) -> tuple[float, float]:
    """(top, step) of the y axis: a round step, at most about five of them."""
    if value <= 0:
        return 1.0, 0.25
    raw = value / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if raw <= m * power)
    return step * math.ceil(value / step), step


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def svg(labels: list[str], values: list, kind: str = "bar", title: str = "") -> str:
    if not labels:
        return ""
    nums = [float(v) if isinstance(v, (int, float)) else 0.0 for v in values]
    top, tick = _scale(max(nums))
    w, h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_T - PAD_B
    step = w / len(labels)

    def y(v: float) -> float:
        return PAD_T + h - v * h / top

    parts = [f'<svg class="report-chart {kind}" xmlns="http://www.w3.org/2000/svg" width="100%" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>']
    for i in range(int(round(top / tick)) + 1):
        v = tick * i
        parts.append(f'<line x1="{PAD_L}" x2="{PAD_L + w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                     f'<text x="{PAD_L - 4}" y="{y(v) + 3:.1f}" font-size="10" text-anchor="end">{_fmt(v)}</text>')
    every = max(1, math.ceil(len(labels) / 31))
    for i, label in enumerate(labels):
        cx = PAD_L + step * (i + 0.5)
        if i % every == 0:
            parts.append(f'<text x="{cx:.1f}" y="{PAD_T + h + 12}" font-size="10" text-anchor="end" '
                         f'transform="rotate(-45 {cx:.1f} {PAD_T + h + 12})">{escape(str(label))}</text>')
    if kind == "line":
        points = [(PAD_L + step * (i + 0.5), y(v)) for i, v in enumerate(nums)]
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{py:.1f}" for i, (x, py) in enumerate(points))
        parts.append(f'<path class="series" d="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>')
        for (x, py), label, v in zip(points, labels, nums):
            parts.append(f'<circle class="point" cx="{x:.1f}" cy="{py:.1f}" r="3" fill="#1565c0">'
                         f'<title>{escape(str(label))}: {_fmt(v)}</title></circle>')
    else:
        bar = max(1.0, step * 0.7)
        for i, (label, v) in enumerate(zip(labels, nums)):
            x = PAD_L + step * i + (step - bar) / 2
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y(v):.1f}" width="{bar:.1f}" '
                         f'height="{PAD_T + h - y(v):.1f}" fill="#1565c0">'
                         f'<title>{escape(str(label))}: {_fmt(v)}</title></rect>')
    parts.append(f'<line x1="{PAD_L}" x2="{PAD_L + w}" y1="{PAD_T + h}" y2="{PAD_T + h}" stroke="#555"/>')
    parts.append("</svg>")
    return "".join(parts)
