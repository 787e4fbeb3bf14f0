"""A small SVG plotter for the report: lines, points, guides, axes and a legend.

The report needs two plain charts; drawing them by hand keeps matplotlib (about a
second and a half to import) off the export's critical path, and the output is
deterministic text that stays crisp on a projector.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

PALETTE = (
    "#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700",
    "#1b7c83", "#e16f24", "#6e7781", "#bf3989", "#0550ae",
)  # fmt: skip


def _nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]``."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


class Plot:
    """One chart: data coordinates mapped into a ``width`` x ``height`` pixel box."""

    def __init__(
        self,
        width: int,
        height: int,
        x: tuple[float, float],
        y: tuple[float, float],
        title: str,
        xlabel: str,
        ylabel: str,
        invert_y: bool = False,
    ) -> None:
        self.w, self.h, self.title, self.xlabel, self.ylabel = width, height, title, xlabel, ylabel
        self.left, self.right, self.top, self.bottom = 78, 20, 48, 64
        self.x0, self.x1 = x if x[1] > x[0] else (x[0], x[0] + 1)
        self.y0, self.y1 = y if y[1] > y[0] else (y[0], y[0] + 1)
        self.invert_y = invert_y  # ranks: 1 at the top (and at the left: x is never inverted)
        self.items: list[str] = []
        self.legend: list[tuple[str, str]] = []

    def px(self, x: float) -> float:
        f = (x - self.x0) / (self.x1 - self.x0)
        return self.left + f * (self.w - self.left - self.right)

    def py(self, y: float) -> float:
        f = (y - self.y0) / (self.y1 - self.y0)
        f = f if self.invert_y else 1 - f
        return self.top + f * (self.h - self.top - self.bottom)

    def line(self, points: Sequence[tuple[float, float]], color: str, label: str | None = None) -> None:
        path = " ".join(f"{self.px(x):.1f},{self.py(y):.1f}" for x, y in points)
        self.items.append(f'<polyline fill="none" stroke="{color}" stroke-width="2.2" points="{path}"/>')
        if label:
            self.legend.append((label, color))

    def points(
        self, points: Sequence[tuple[float, float]], color: str, label: str | None = None, r: float = 4
    ) -> None:
        for x, y in points:
            self.items.append(f'<circle cx="{self.px(x):.1f}" cy="{self.py(y):.1f}" r="{r}" fill="{color}"/>')
        if label:
            self.legend.append((label, color))

    def text(self, x: float, y: float, label: str, size: int = 16, color: str = "#1b1f24") -> None:
        self.items.append(
            f'<text x="{self.px(x) + 5:.1f}" y="{self.py(y) - 5:.1f}" font-size="{size}" fill="{color}">'
            f"{html.escape(label)}</text>"
        )

    def vline(self, x: float, color: str = "#6e7781", label: str | None = None) -> None:
        px = self.px(x)
        self.items.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{self.top}" y2="{self.h - self.bottom}" '
            f'stroke="{color}" stroke-dasharray="6 4"/>'
        )
        if label:
            y = self.h - self.bottom - 6
            self.items.append(
                f'<text transform="translate({px - 5:.1f},{y}) rotate(-90)" font-size="16" fill="{color}">'
                f"{html.escape(label)}</text>"
            )

    def hline(self, y: float, color: str = "#6e7781") -> None:
        py = self.py(y)
        self.items.append(
            f'<line x1="{self.left}" x2="{self.w - self.right}" y1="{py:.1f}" y2="{py:.1f}" '
            f'stroke="{color}" stroke-dasharray="6 4"/>'
        )

    def render(
        self,
        xticks: Sequence[float] | None = None,
        xfmt: Callable[[float], str] = lambda v: f"{v:g}",
    ) -> str:
        """The whole chart as an ``<svg>`` element."""
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w} {self.h}" width="100%" '
            f'preserveAspectRatio="xMidYMid meet" font-family="system-ui,sans-serif" role="img" '
            f'aria-label="{html.escape(self.title)}">',
            f'<text x="{self.w / 2}" y="30" font-size="22" font-weight="600" text-anchor="middle">'
            f"{html.escape(self.title)}</text>",
        ]
        ymin, ymax = self.top, self.h - self.bottom
        for v in _nice_ticks(self.y0, self.y1):
            py = self.py(v)
            out.append(
                f'<line x1="{self.left}" x2="{self.w - self.right}" y1="{py:.1f}" y2="{py:.1f}" '
                'stroke="#eaeef2"/>'
                f'<text x="{self.left - 8}" y="{py + 6:.1f}" font-size="16" text-anchor="end">{v:g}</text>'
            )
        for v in xticks if xticks is not None else _nice_ticks(self.x0, self.x1):
            px = self.px(v)
            out.append(
                f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{ymin}" y2="{ymax}" stroke="#eaeef2"/>'
                f'<text x="{px:.1f}" y="{ymax + 22}" font-size="16" text-anchor="middle">'
                f"{html.escape(xfmt(v))}</text>"
            )
        out.append(
            f'<rect x="{self.left}" y="{ymin}" width="{self.w - self.left - self.right}" '
            f'height="{ymax - ymin}" fill="none" stroke="#8c959f"/>'
        )
        out += self.items
        out.append(
            f'<text x="{(self.left + self.w - self.right) / 2}" y="{self.h - 14}" font-size="18" '
            f'text-anchor="middle">{html.escape(self.xlabel)}</text>'
            f'<text transform="translate(22,{(ymin + ymax) / 2}) rotate(-90)" font-size="18" '
            f'text-anchor="middle">{html.escape(self.ylabel)}</text>'
        )
        for i, (label, color) in enumerate(self.legend):
            col, row = divmod(i, 5)
            x, y = self.left + 14 + col * 170, ymin + 22 + row * 24
            out.append(
                f'<rect x="{x}" y="{y - 11}" width="18" height="5" fill="{color}"/>'
                f'<text x="{x + 24}" y="{y - 3}" font-size="16">{html.escape(label)}</text>'
            )
        out.append("</svg>")
        return "\n".join(out)
