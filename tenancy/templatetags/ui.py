"""Small UI pieces shared by every page: band badges, trend arrows, SVG sparklines and bars.

Charts are drawn here, on the server, as inline SVG: no chart library, nothing to download, and
each chart carries a text alternative so a band or a trend is never shown by colour alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()

BAND_LABELS = {
    "at_risk": ("At risk", "▲"),
    "watch": ("Watch", "●"),
    "on_track": ("On track", "✓"),
    "no_outcome": ("No outcome recorded", "–"),
    "": ("Not scored", "…"),
}


@register.simple_tag
def band_badge(band: str | None, gap: float | None = None) -> str:
    """A band as a badge with an icon and words (colour is only a second signal)."""
    label, icon = BAND_LABELS.get(band or "", BAND_LABELS[""])
    gap_text = f" · gap {gap:.0f}" if gap is not None else ""
    return format_html(
        '<span class="band band-{}"><span aria-hidden="true">{}</span> {}{}</span>',
        band or "none",
        icon,
        label,
        gap_text,
    )


TREND = '<span class="trend {}" title="{}">{}<span class="visually-hidden"> {}</span></span>'


@register.simple_tag
def trend_arrow(gap: float | None, previous: float | None) -> str:
    """↑ when the gap grew since the previous snapshot (worse), ↓ when it shrank."""
    if gap is None or previous is None:
        return ""
    delta = gap - previous
    if abs(delta) < 0.5:
        return format_html(TREND, "trend-flat", "gap unchanged", "→", "gap unchanged")
    word, arrow, css = (
        ("wider", "↑", "trend-worse") if delta > 0 else ("narrower", "↓", "trend-better")
    )
    text = f"gap {word} by {abs(delta):.0f}"
    return format_html(TREND, css, text, arrow, text)


def _points(values: Sequence[float], width: int, height: int, top: float) -> str:
    step = width / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - (v / top) * (height - 2) - 1:.1f}" for i, v in enumerate(values)
    )


@register.simple_tag
def sparkline(
    values: Iterable[float | None], label: str = "trend", width: int = 120, height: int = 28
) -> str:
    """A line of the values (None skipped), scaled 0–100 for gaps."""
    numbers = [float(v) for v in values if v is not None]
    if len(numbers) < 2:
        return format_html('<span class="muted">{}</span>', "not enough history yet")
    top = max(100.0, *numbers)
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}">'
        '<polyline fill="none" stroke="currentColor" stroke-width="2" points="{}"/></svg>',
        width,
        height,
        width,
        height,
        f"{label}: from {numbers[0]:.0f} to {numbers[-1]:.0f}",
        _points(numbers, width, height, top),
    )


@register.simple_tag
def share_bar(parts: Sequence[tuple[str, float, str]], label: str = "") -> str:
    """A horizontal stacked bar: parts are (name, share 0–1, css class); the legend is text."""
    x = 0.0
    rects = []
    for name, share, css in parts:
        width = max(0.0, share) * 100
        rects.append((css, f"{x:.2f}", f"{width:.2f}", f"{name}: {share:.0%}"))
        x += width
    bars = format_html_join(
        "", '<rect class="{}" x="{}%" y="0" width="{}%" height="12"><title>{}</title></rect>', rects
    )
    legend = ", ".join(f"{name} {share:.0%}" for name, share, _ in parts)
    return format_html(
        '<svg class="share-bar" width="100%" height="12" role="img" aria-label="{}">{}</svg>',
        f"{label} {legend}".strip(),
        bars,
    )


@register.filter
def get_item(mapping: dict, key):
    """``mapping[key]`` in a template (None when missing)."""
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag
def direction_bar(mix: dict, label: str = "Direction mix:") -> str:
    """``share_bar`` of a direction mix (``engagement.selectors.direction_mix`` or one row of
    ``direction_mix_by_seat``), coloured by the ``mix-<direction>`` classes."""
    parts = [
        (part["label"], part["share"], f"mix-{direction}")
        for direction, part in mix["directions"].items()
    ]
    return share_bar(parts, label)


def _bar_value(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if isinstance(value, int):
        return f"{value}{unit}"
    return f"{float(value):.1f}{unit}"


BAR_ROW = 34  # px: the name on one line, the bar under it


@register.simple_tag
def bar_chart(
    rows: Sequence[tuple[str, float | None, str]],
    label: str,
    unit: str = "",
    top: float | None = None,
) -> str:
    """Horizontal bars, one per row of (name, value, css class): each bar has its name above
    it and its value beside it as text, and the chart's label reads every value, so nothing
    depends on colour or on seeing the bar's length. ``top`` is the value of a full bar
    (default: the largest value); None values draw no bar and read "no data"."""
    values = [float(value) for _, value, _ in rows if value is not None]
    top = float(top) if top else max([*values, 0.0]) or 1.0
    parts = []
    for index, (name, value, css) in enumerate(rows):
        width = 0.0 if value is None else max(0.0, float(value)) / top * 85
        y = index * BAR_ROW
        parts.append(
            (
                y + 11,
                name,
                css,
                y + 15,
                f"{width:.2f}",
                f"{name}: {_bar_value(value, unit)}",
                f"{width + 1:.2f}",
                y + 26,
                _bar_value(value, unit),
            )
        )
    bars = format_html_join(
        "",
        '<text class="bar-name" x="0" y="{}">{}</text>'
        '<rect class="{}" x="0" y="{}" width="{}%" height="12" rx="2"><title>{}</title></rect>'
        '<text class="bar-value" x="{}%" y="{}">{}</text>',
        parts,
    )
    summary = "; ".join(f"{name}: {_bar_value(value, unit)}" for name, value, _ in rows)
    return format_html(
        '<svg class="bar-chart" width="100%" height="{}" role="img" aria-label="{}">{}</svg>',
        len(rows) * BAR_ROW,
        f"{label} {summary}".strip(),
        bars,
    )
