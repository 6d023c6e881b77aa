"""The geometry of the bar chart "conversations and handoffs per day", drawn as inline SVG by
``analytics/_chart.html``: no JavaScript, and colours come from CSS classes (the CSP forbids
inline styles), so the chart is only numbers here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from web.services.analytics import DayStats

WIDTH = 960
HEIGHT = 300
LEFT = 48  # room for the y-axis labels
RIGHT = 12
TOP = 16
BOTTOM = 40  # room for the dates


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    y: float  # top of the conversations bar
    height: float
    handoff_y: float
    handoff_height: float
    label: str  # the tooltip, e.g. "12.03.2024: 14 Gespräche, 2 Übergaben"


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class DayLabel:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    right: float  # x of the plot's right edge
    baseline: float
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[DayLabel]


def nice_step(maximum: int, ticks: int = 5) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most ``ticks`` gridlines."""
    if maximum <= ticks:
        return 1
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)  # pragma: no cover - the loop always returns


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def build_chart(days: Sequence[DayStats]) -> Chart:
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_height
    highest = max([d.conversations for d in days] + [d.handoffs for d in days] + [1])
    step = nice_step(highest)
    top_value = step * math.ceil(highest / step)

    def y_of(value: int) -> float:
        return round(baseline - plot_height * value / top_value, 1)

    slot = plot_width / max(len(days), 1)
    gap = slot * 0.2 if slot > 4 else 0
    bars = []
    for n, day in enumerate(days):
        y = y_of(day.conversations)
        handoff_y = y_of(day.handoffs)
        bars.append(
            Bar(
                x=round(LEFT + n * slot + gap / 2, 1),
                width=round(slot - gap, 1),
                y=y,
                height=round(baseline - y, 1),
                handoff_y=handoff_y,
                handoff_height=round(baseline - handoff_y, 1),
                label=(
                    f"{day.day:%d.%m.%Y}: {_plural(day.conversations, 'Gespräch', 'Gespräche')}, "
                    f"{_plural(day.handoffs, 'Übergabe', 'Übergaben')}"
                ),
            )
        )
    ticks = [Tick(y_of(value), value) for value in range(0, top_value + 1, step)]
    # About eight dates fit under the axis; always label the last day (today).
    every = max(1, math.ceil(len(days) / 8))
    labels = [
        DayLabel(round(LEFT + (n + 0.5) * slot, 1), f"{day.day:%d.%m.}")
        for n, day in enumerate(days)
        if (len(days) - 1 - n) % every == 0
    ]
    return Chart(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, baseline, bars, ticks, labels)
