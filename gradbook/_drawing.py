"""Drawing a traced graph as SVG: forward values above each edge, gradients below.

The layout is computed here (layers left to right, rows by the average height of a node's
inputs) and the SVG is written as text, so every label is a searchable <text> element and two
renders of one graph are byte-identical. No layout engine or system binary is needed.
"""
from __future__ import annotations

from html import escape

import numpy as np

from ._display import show
from ._trace import TracedGraph, _number, trace_graph

VALUE, GRADIENT, INK, FILL = "#1a7f37", "#cf222e", "#57606a", "#f6f8fa"
ROW, MARGIN, CHAR = 96, 24, 7.2  # row spacing, margin, and the width of one 12px character
ARCH = 70  # how far an edge arches above the straight line to clear a node in its way


class Graph:
    """A computational graph with its numbers, shown as SVG in a notebook."""

    def __init__(self, traced: TracedGraph, output: str):
        self.traced, self.output = traced, output
        self.svg = render_svg(traced, output)

    def value(self, name: str) -> np.ndarray:
        """The forward value of a named node (an input, a named intermediate, or the output)."""
        return self.traced.values[name]

    def grad(self, name: str) -> np.ndarray:
        """The gradient of the output with respect to a named value (summed over its uses)."""
        return self.traced.grads[name]

    @property
    def nodes(self):
        return self.traced.nodes

    @property
    def edges(self):
        return self.traced.edges

    def check_printed(self, claim: str, values: dict | None = None, grads: dict | None = None):
        """Check the numbers on the picture against the ones the document prints."""
        from ._printed import check_printed

        for name, printed in (values or {}).items():
            check_printed(claim, f"{name} on the graph", printed, self.value(name))
        for name, printed in (grads or {}).items():
            check_printed(claim, f"∂{self.output}/∂{name} on the graph", printed, self.grad(name))

    def _repr_svg_(self) -> str:
        return self.svg

    def __repr__(self) -> str:
        ops = [n.label for n in self.nodes if n.kind == "op"]
        inputs = [n.label for n in self.nodes if n.kind == "input"]
        return (f"[graph of {self.output}: inputs {', '.join(inputs)}; "
                f"{len(ops)} operation(s): {', '.join(ops)}]")


def draw_graph(f, *args, names=None, output: str = "f") -> Graph:
    """Draw the computational graph of scalar-valued `f` at `args`, with values and gradients.

    Intermediate values named with `named(value, "q")` inside `f` carry their names.
    """
    graph = Graph(trace_graph(f, *args, names=names, output=output), output)
    show(graph)
    return graph


def render_svg(traced: TracedGraph, output: str) -> str:
    """The SVG text of a traced graph."""
    texts = {id(e): (_value_text(e), _grad_text(e)) for e in traced.edges}
    widest = max((len(t) for pair in texts.values() for t in pair), default=4)
    column = max(120.0, CHAR * widest + 48)
    pos = _positions(traced, column)
    widths = {n.id: _half_width(n) for n in traced.nodes}
    bends = _bends(traced, pos)
    if any(b < 0 for b in bends):  # room above for edges that arch over other nodes
        pos = {k: (x, y + ARCH / 2) for k, (x, y) in pos.items()}
    width = MARGIN * 2 + column * max(n.layer for n in traced.nodes) + 60
    height = max(y for _, y in pos.values()) + ROW / 2 + (70 if any(b > 0 for b in bends) else 30)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
             f'font-size="12">',
             f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
             '<defs><marker id="gradbook-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
             f'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
             f'fill="{INK}"/></marker></defs>']
    for e, bend in zip(traced.edges, bends):
        parts += _edge_svg(e, pos, widths, texts[id(e)], bend)
    parts += [_node_svg(n, pos[n.id]) for n in traced.nodes]
    y = height - 12
    parts.append(f'<text x="{MARGIN}" y="{y:.0f}" fill="{VALUE}">value (forward)</text>')
    parts.append(f'<text x="{MARGIN + 120}" y="{y:.0f}" fill="{GRADIENT}">'
                 f'gradient of {escape(output)} (backward)</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _bends(traced: TracedGraph, pos) -> list[float]:
    """How far each edge bends from a straight line (negative: upwards).

    A second edge between the same two nodes bends away from the first; an edge whose straight
    line would run through another node arches over it.
    """
    bends, seen = [], {}
    for e in traced.edges:
        k = seen.get((e.source, e.target), 0)
        seen[(e.source, e.target)] = k + 1
        bend = (1 if k % 2 else -1) * 80 * ((k + 1) // 2)
        if k == 0 and _runs_through_a_node(e, traced, pos):
            bend = -ARCH
        bends.append(bend)
    return bends


def _runs_through_a_node(edge, traced, pos) -> bool:
    (x1, y1), (x2, y2) = pos[edge.source], pos[edge.target]
    for n in traced.nodes:
        x, y = pos[n.id]
        if n.id not in (edge.source, edge.target) and x1 < x < x2:
            if abs(y - (y1 + (y2 - y1) * (x - x1) / (x2 - x1))) < 30:
                return True
    return False


def _positions(traced: TracedGraph, column: float) -> dict[str, tuple[float, float]]:
    """x by layer; y by the mean height of a node's sources, then spread to avoid overlaps."""
    sources: dict[str, list[str]] = {}
    for e in traced.edges:
        sources.setdefault(e.target, []).append(e.source)
    pos: dict[str, tuple[float, float]] = {}
    for layer in range(max(n.layer for n in traced.nodes) + 1):
        members = [n for n in traced.nodes if n.layer == layer]
        wanted = []
        for order, n in enumerate(members):
            ys = [pos[s][1] for s in sources.get(n.id, []) if s in pos]
            wanted.append((sum(ys) / len(ys) if ys else MARGIN + ROW / 2 + ROW * order, order, n))
        wanted.sort(key=lambda t: (t[0], t[1]))
        floor = -np.inf
        for y, _, n in wanted:
            y = max(y, floor + ROW)
            pos[n.id] = (MARGIN + 30 + column * layer, y)
            floor = y
    top = min(y for _, y in pos.values())
    return {k: (x, y - top + MARGIN + 24) for k, (x, y) in pos.items()}


def _half_width(node) -> float:
    if node.kind == "copy":
        return 4.0
    return max(18.0, CHAR * len(node.label) / 2 + 10)


def _node_svg(node, at) -> str:
    x, y = at
    label = escape(node.label)
    if node.kind == "copy":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{INK}"/>'
    w = _half_width(node)
    if node.kind == "op":
        shape = (f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{w:.1f}" ry="18" fill="{FILL}" '
                 f'stroke="{INK}"/>')
    else:
        shape = (f'<rect x="{x - w:.1f}" y="{y - 14:.1f}" width="{2 * w:.1f}" height="28" rx="6" '
                 f'fill="white" stroke="{INK}"/>')
    return (f'{shape}<text x="{x:.1f}" y="{y + 4.5:.1f}" text-anchor="middle" font-size="14" '
            f'font-weight="bold" fill="#24292f">{label}</text>')


def _edge_svg(edge, pos, widths, texts, bend) -> list[str]:
    """A line (or a curve) with its value above and its gradient below, clear of the line."""
    (x1, y1), (x2, y2) = pos[edge.source], pos[edge.target]
    x1, x2 = x1 + widths[edge.source], x2 - widths[edge.target]
    t = 0.5 if bend else 0.4  # labels sit a little before the middle, where edges are apart
    xm, ym = x1 + t * (x2 - x1), y1 + t * (y2 - y1) + bend / 2
    slope = 0.0 if bend else abs(y2 - y1) / max(x2 - x1, 1.0)
    value, grad = texts
    above = ym - 6 - slope * CHAR * len(value) / 2
    below = ym + 15 + slope * CHAR * len(grad) / 2
    return [f'<path d="M{x1:.1f},{y1:.1f} Q{(x1 + x2) / 2:.1f},{(y1 + y2) / 2 + bend:.1f} '
            f'{x2:.1f},{y2:.1f}" fill="none" stroke="{INK}" stroke-width="1.3" '
            f'marker-end="url(#gradbook-arrow)"/>',
            f'<text x="{xm:.1f}" y="{above:.1f}" text-anchor="middle" fill="{VALUE}">'
            f'{escape(value)}</text>',
            f'<text x="{xm:.1f}" y="{below:.1f}" text-anchor="middle" fill="{GRADIENT}">'
            f'{escape(grad)}</text>']


def _value_text(edge) -> str:
    text = _array_text(edge.value)
    return f"{edge.name} = {text}" if edge.name else text


def _grad_text(edge) -> str:
    return "" if edge.grad is None else _array_text(edge.grad)


def _array_text(a) -> str:
    """Scalars as numbers; small arrays as their values; larger ones by shape."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _number(a)
    shape = "×".join(map(str, a.shape))
    if a.size > 6:
        return f"f64[{shape}]"
    if a.ndim == 1:
        return "[" + ", ".join(_number(v) for v in a) + "]"
    if a.ndim == 2:
        return "[" + "; ".join(", ".join(_number(v) for v in row) for row in a) + "]"
    return f"f64[{shape}]"
