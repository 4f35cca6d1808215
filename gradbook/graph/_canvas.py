"""A drawing as a list of shapes, written both as SVG text and as a PNG made by matplotlib's Agg.

A notebook carries both: SVG keeps every label a searchable <text>, and PNG is what an
untrusted notebook (JupyterLab, VS Code, GitHub) shows, since none of them renders its SVG.
Both are byte-identical from build to build: the SVG is written as text, and Agg with
matplotlib's bundled font and no metadata draws the same pixels every time.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from html import escape

INK = "#57606a"
MAX_WIDTH = 1000  # a notebook's width in pixels: wider drawings are scaled down to it
PX_PER_PT = 100 / 72  # the PNG is drawn at 100 dpi, so one SVG pixel is one PNG pixel


@dataclass
class Canvas:
    """Shapes in SVG pixel coordinates (y downwards), in drawing order."""

    width: float
    height: float
    shapes: list = field(default_factory=list)

    def line(self, points, curve: bool = False, arrow: bool = True) -> None:
        """A polyline (or, with three points and curve=True, a quadratic curve) with an arrow."""
        self.shapes.append(("line", tuple(points), curve, arrow))

    def ellipse(self, x, y, rx, ry, fill) -> None:
        self.shapes.append(("ellipse", x, y, rx, ry, fill))

    def box(self, x, y, w, h, fill) -> None:
        self.shapes.append(("box", x, y, w, h, fill))

    def dot(self, x, y, r=4.0) -> None:
        self.shapes.append(("dot", x, y, r))

    def text(self, x, y, s, fill, anchor="start", size=12, bold=False) -> None:
        if s:
            self.shapes.append(("text", x, y, s, fill, anchor, size, bold))

    def crossings(self) -> list[str]:
        """The edge labels some line runs through, or another label overlaps (which would leave
        unclear which edge each belongs to); a 12 px character is taken as 6.6 px wide."""
        boxes = self._label_boxes()
        lines = [_polyline(shape) for shape in self.shapes if shape[0] == "line"]
        crossed = [s for s, box in boxes if any(_through(line, box) for line in lines)]
        stacked = [a for i, (a, box) in enumerate(boxes)
                   if any(_overlap(box, other) for j, (_, other) in enumerate(boxes) if j != i)]
        return crossed + stacked

    def _label_boxes(self) -> list:
        boxes = []
        for shape in self.shapes:
            if shape[0] == "text" and shape[6] == 12:
                _, x, y, s, _, anchor, _, _ = shape
                w = 6.6 * len(s)
                left = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
                boxes.append((s, (left, y - 9, left + w, y + 2)))
        return boxes

    @property
    def scale(self) -> float:
        """How much the drawing is shrunk to fit MAX_WIDTH (1 when it fits)."""
        return min(1.0, MAX_WIDTH / self.width)

    def svg(self) -> str:
        """The drawing as SVG text, shown at most MAX_WIDTH pixels wide."""
        w, h, s = self.width, self.height, self.scale
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * s:.0f}" height="{h * s:.0f}" '
                 f'viewBox="0 0 {w:.0f} {h:.0f}" font-family="Helvetica, Arial, sans-serif" '
                 f'font-size="12">',
                 f'<rect width="{w:.0f}" height="{h:.0f}" fill="white"/>',
                 '<defs><marker id="gradbook-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
                 f'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
                 f'fill="{INK}"/></marker></defs>']
        parts += [_svg_shape(shape) for shape in self.shapes]
        parts.append("</svg>")
        return "\n".join(parts) + "\n"

    def png(self) -> bytes:
        """The drawing as PNG pixels, at most MAX_WIDTH wide, the same bytes on every run."""
        from matplotlib.figure import Figure

        s = self.scale
        fig = Figure(figsize=(self.width * s / 100, self.height * s / 100), dpi=100)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, self.width)
        ax.set_ylim(self.height, 0)
        ax.set_axis_off()
        for shape in self.shapes:
            _draw_shape(ax, shape, s)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, facecolor="white",
                    metadata={"Software": None})
        return buffer.getvalue()


def _polyline(shape, pieces: int = 20) -> list:
    """A line's points, a curve sampled into `pieces` straight pieces."""
    _, points, curve, _ = shape
    if not curve:
        return list(points)
    (x1, y1), (cx, cy), (x2, y2) = points
    ts = [k / pieces for k in range(pieces + 1)]
    return [((1 - t) ** 2 * x1 + 2 * t * (1 - t) * cx + t * t * x2,
             (1 - t) ** 2 * y1 + 2 * t * (1 - t) * cy + t * t * y2) for t in ts]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _through(points, box, samples: int = 40) -> bool:
    left, top, right, bottom = box
    for (x1, y1), (x2, y2) in zip(points[:-1], points[1:]):
        for k in range(samples + 1):
            x, y = x1 + k / samples * (x2 - x1), y1 + k / samples * (y2 - y1)
            if left < x < right and top < y < bottom:
                return True
    return False


def _svg_shape(shape) -> str:
    kind, *a = shape
    if kind == "line":
        points, curve, arrow = a
        if curve:
            (x1, y1), (cx, cy), (x2, y2) = points
            d = f"M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {x2:.1f},{y2:.1f}"
        else:
            d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
        marker = ' marker-end="url(#gradbook-arrow)"' if arrow else ""
        return f'<path d="{d}" fill="none" stroke="{INK}" stroke-width="1.3"{marker}/>'
    if kind == "ellipse":
        x, y, rx, ry, fill = a
        return (f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{rx:.1f}" ry="{ry:.1f}" fill="{fill}" '
                f'stroke="{INK}"/>')
    if kind == "box":
        x, y, w, h, fill = a
        return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
                f'fill="{fill}" stroke="{INK}"/>')
    if kind == "dot":
        x, y, r = a
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.0f}" fill="{INK}"/>'
    x, y, s, fill, anchor, size, bold = a
    style = (f' font-size="{size}"' if size != 12 else "") + (' font-weight="bold"' if bold else "")
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{style} fill="{fill}">'
            f'{escape(s)}</text>')


def _draw_shape(ax, shape, scale: float) -> None:
    from matplotlib.patches import Ellipse, FancyBboxPatch, PathPatch, Polygon
    from matplotlib.path import Path

    kind, *a = shape
    lw = 1.3 * scale * 72 / 100
    if kind == "line":
        points, curve, arrow = a
        codes = [Path.MOVETO] + [Path.CURVE3 if curve else Path.LINETO] * (len(points) - 1)
        end, before = points[-1], points[-2]
        if arrow:  # stop the line at the arrowhead's base, then draw the head
            import math

            dx, dy = end[0] - before[0], end[1] - before[1]
            n = math.hypot(dx, dy) or 1.0
            ux, uy = dx / n, dy / n
            base = (end[0] - 8 * ux, end[1] - 8 * uy)
            points = list(points[:-1]) + [base]
            head = [end, (base[0] - 4 * uy, base[1] + 4 * ux), (base[0] + 4 * uy, base[1] - 4 * ux)]
            ax.add_patch(Polygon(head, closed=True, facecolor=INK, edgecolor="none"))
        ax.add_patch(PathPatch(Path(points, codes), fill=False, edgecolor=INK, linewidth=lw))
    elif kind == "ellipse":
        x, y, rx, ry, fill = a
        ax.add_patch(Ellipse((x, y), 2 * rx, 2 * ry, facecolor=fill, edgecolor=INK, linewidth=lw))
    elif kind == "box":
        x, y, w, h, fill = a
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=6",
                                    facecolor=fill, edgecolor=INK, linewidth=lw))
    elif kind == "dot":
        x, y, r = a
        ax.add_patch(Ellipse((x, y), 2 * r, 2 * r, facecolor=INK, edgecolor="none"))
    else:
        x, y, s, fill, anchor, size, bold = a
        ha = {"start": "left", "middle": "center", "end": "right"}[anchor]
        ax.text(x, y, s, color=fill, ha=ha, va="baseline", fontsize=size * scale / PX_PER_PT,
                fontweight="bold" if bold else "normal", family="DejaVu Sans")
