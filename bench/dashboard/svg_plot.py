"""A small line chart as inline SVG text (standard library only), for the benchmark dashboard.

One chart = one figure of one model over the runs of the history: x is the run index (equally
spaced, oldest left), y the value; one series per engine, each point with an optional error bar
(the standard deviation) and a <title> tooltip. A missing value (null) breaks its line.
The y axis starts at 0 (speeds and sizes compare by ratio, so the zero matters) and ends at a
whole number (at most 6) of "nice" steps (1, 2, 2.5 or 5 times a power of ten) above the
largest value plus its error bar.
The SVG has no xmlns and no external reference: it is meant to be inlined in an HTML5 page.
Every string that reaches the SVG goes through html.escape.
"""
import html
import math

WIDTH, HEIGHT = 440, 250
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 40, 46


class Series:
    """values[i] is (mean or None, stddev or None) for run i; tooltips[i] a text for its point."""

    def __init__(self, name, color, dashed, values, tooltips):
        self.name, self.color, self.dashed = name, color, dashed
        self.values, self.tooltips = values, tooltips


def nice_axis(top):
    """(axis maximum, tick step) for values up to top > 0: the smallest step of 1, 2, 2.5 or 5
    times a power of ten that covers top in at most 6 ticks; the maximum is a whole number of steps."""
    exponent = math.floor(math.log10(top / 6))
    for power in (exponent, exponent + 1):
        for mantissa in (1.0, 2.0, 2.5, 5.0):
            step = mantissa * 10.0 ** power
            count = math.ceil(top / step * (1 - 1e-12))
            if count <= 6:
                return step * max(count, 1), step
    return 10.0 ** (exponent + 2), 10.0 ** (exponent + 1)


def tick_text(value, step):
    """The tick value with as many decimals as the step needs (0.25 -> 2, 50 -> 0)."""
    decimals = 0
    while decimals < 6 and abs(round(step, decimals) - step) > 1e-9 * step:
        decimals += 1
    return f"{value:,.{decimals}f}"


def attr(text):
    return html.escape(str(text), quote=True)


def line_chart(title, subtitle, unit, run_labels, series, data_attributes):
    """SVG text of one chart: title centred on top, subtitle right-aligned beside the legend;
    run_labels[i] = (first line, second line) under run i."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    runs = len(run_labels)
    top_value = 0.0
    for s in series:
        for mean, stddev in s.values:
            if mean is not None:
                top_value = max(top_value, mean + (stddev or 0.0))
    y_max, step = nice_axis(top_value * 1.05) if top_value > 0 else (1.0, 0.2)
    ticks = round(y_max / step)

    def x_of(i):
        return LEFT + (plot_w / 2 if runs == 1 else plot_w * (0.04 + 0.92 * i / (runs - 1)))

    def y_of(v):
        return TOP + plot_h * (1 - v / y_max)

    extra = "".join(f' data-{key}="{attr(value)}"' for key, value in data_attributes.items())
    out = [f'<svg class="plot" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="{attr(title)}, {attr(subtitle)}"{extra}>',
           f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
           f'<text x="{WIDTH / 2:.0f}" y="16" font-size="12" font-weight="bold" text-anchor="middle">{attr(title)}</text>',
           f'<text x="{WIDTH - RIGHT}" y="32" font-size="10" text-anchor="end" fill="#555">{attr(subtitle)}</text>']
    # Grid and y ticks.
    for k in range(ticks + 1):
        value = step * k
        y = y_of(value)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{attr(tick_text(value, step))}</text>')
    out.append(f'<text x="12" y="{TOP + plot_h / 2:.1f}" font-size="10" text-anchor="middle" '
               f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{attr(unit)}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#888"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#888"/>')
    # X labels: at most ~8, always the latest run.
    every = max(1, math.ceil(runs / 8))
    for i, (first, second) in enumerate(run_labels):
        if (runs - 1 - i) % every:
            continue
        x = x_of(i)
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 14}" font-size="9" text-anchor="middle">{attr(first)}</text>')
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 25}" font-size="9" text-anchor="middle" fill="#666">{attr(second)}</text>')
    # Legend.
    legend_x = LEFT
    for s in series:
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        out.append(f'<line x1="{legend_x}" y1="28" x2="{legend_x + 18}" y2="28" stroke="{s.color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{legend_x + 22}" y="32" font-size="10">{attr(s.name)}</text>')
        legend_x += 30 + 6 * len(s.name)
    # Series: line segments between consecutive present values, error bars, points.
    for s in series:
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        segment = []
        segments = [segment]
        for i, (mean, _) in enumerate(s.values):
            if mean is None:
                segment = []
                segments.append(segment)
            else:
                segment.append(f"{x_of(i):.1f},{y_of(mean):.1f}")
        for points in segments:
            if len(points) > 1:
                out.append(f'<polyline class="series" fill="none" stroke="{s.color}" stroke-width="2"{dash} '
                           f'points="{" ".join(points)}"/>')
        for i, (mean, stddev) in enumerate(s.values):
            if mean is None:
                continue
            x, y = x_of(i), y_of(mean)
            if stddev:
                lo, hi = y_of(max(0.0, mean - stddev)), y_of(mean + stddev)
                out.append(f'<line x1="{x:.1f}" y1="{lo:.1f}" x2="{x:.1f}" y2="{hi:.1f}" stroke="{s.color}" stroke-width="1"/>')
            out.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{s.color}" '
                       f'data-series="{attr(s.name)}" data-run="{i}" data-value="{mean!r}">'
                       f'<title>{attr(s.tooltips[i])}</title></circle>')
    out.append("</svg>")
    return "\n".join(out)
