"""Charts drawn on the server as SVG, from a report's tables: no script, no library.

Colours are classes the console's CSS sets for light and dark (`.chart .series-N`), so a
chart follows the reader's scheme. Each chart is a picture of the table shown beside it,
which is what a screen reader reads: the SVG is hidden from assistive technology.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, BOTTOM, TOP = 48, 24, 8  # room for the scale and the labels
BAR_ROW = 26  # height of one bar of a bar chart


def _frame(width: int, height: int, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" aria-hidden="true" '
        f'focusable="false" preserveAspectRatio="xMinYMin meet">{"".join(body)}</svg>'
    )


def bars(labels: Sequence[str], values: Sequence[int | float]) -> Markup:
    """One horizontal bar per label, its value at its end."""
    top = max([*values, 0]) or 1
    label_width = 200
    room = WIDTH - label_width - 60
    body = []
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = n * BAR_ROW
        length = max(room * value / top, 0)
        text = str(label) if len(str(label)) <= 30 else str(label)[:29] + "…"
        body.append(
            f'<text class="chart-text" x="{label_width - 8}" y="{y + 17}" '
            f'text-anchor="end">{escape(text)}</text>'
            f'<rect class="series-0" x="{label_width}" y="{y + 4}" width="{length:.1f}" '
            f'height="{BAR_ROW - 8}" rx="3"></rect>'
            f'<text class="chart-text" x="{label_width + length + 6:.1f}" y="{y + 17}">'
            f"{_number(value)}</text>"
        )
    return _frame(WIDTH, max(len(values), 1) * BAR_ROW, body)


def columns(labels: Sequence[str], values: Sequence[int], every: int = 1) -> Markup:
    """One column per label (hours, days), the scale on the left, every `every`th label
    written under its column."""
    top = max([*values, 0]) or 1
    inner = WIDTH - LEFT
    width = inner / max(len(values), 1)
    body = _scale(top)
    for n, value in enumerate(values):
        height = (HEIGHT - BOTTOM - TOP) * value / top
        x = LEFT + n * width
        body.append(
            f'<rect class="series-0" x="{x + 1:.1f}" y="{HEIGHT - BOTTOM - height:.1f}" '
            f'width="{max(width - 2, 1):.1f}" height="{height:.1f}"></rect>'
        )
        if n % every == 0:
            body.append(
                f'<text class="chart-text" x="{x + width / 2:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{escape(labels[n])}</text>'
            )
    return _frame(WIDTH, HEIGHT, body)


def lines(labels: Sequence[str], series: dict[str, Sequence[int]]) -> Markup:
    """A line per series over the labels (days), a legend above; the first and last
    label under the chart."""
    top = max([max(values, default=0) for values in series.values()] + [0]) or 1
    count = max(len(labels), 2)
    step = (WIDTH - LEFT - 8) / (count - 1)
    body = _scale(top)
    for n, (name, values) in enumerate(series.items()):
        points = " ".join(
            f"{LEFT + i * step:.1f},{HEIGHT - BOTTOM - (HEIGHT - BOTTOM - TOP) * v / top:.1f}"
            for i, v in enumerate(values)
        )
        body.append(f'<polyline class="line series-{n}" points="{points}"></polyline>')
        body.append(
            f'<rect class="series-{n}" x="{LEFT + 10 + n * 110}" y="{TOP}" width="10" '
            f'height="10"></rect><text class="chart-text" x="{LEFT + 24 + n * 110}" '
            f'y="{TOP + 10}">{escape(name)}</text>'
        )
    if labels:
        body.append(
            f'<text class="chart-text" x="{LEFT}" y="{HEIGHT - 6}">{escape(labels[0])}</text>'
            f'<text class="chart-text" x="{WIDTH - 8}" y="{HEIGHT - 6}" text-anchor="end">'
            f"{escape(labels[-1])}</text>"
        )
    return _frame(WIDTH, HEIGHT, body)


def _scale(top: int | float) -> list[str]:
    """The baseline and the top value, on the left."""
    base = HEIGHT - BOTTOM
    return [
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH}" y2="{base}"></line>',
        f'<text class="chart-text" x="{LEFT - 6}" y="{TOP + 20}" text-anchor="end">'
        f"{_number(top)}</text>",
        f'<text class="chart-text" x="{LEFT - 6}" y="{base}" text-anchor="end">0</text>',
    ]


def _number(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
