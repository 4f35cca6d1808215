"""Drawing a traced graph as SVG: forward values above each edge, gradients below.

The layout is computed here (layers left to right, rows by the average height of a node's
inputs) and the SVG is written as text, so every label is a searchable <text> element and two
renders of one graph are byte-identical. No layout engine or system binary is needed.
"""
from __future__ import annotations

from html import escape

import numpy as np

from .._display import show
from ._trace import TracedGraph, _number, trace_graph

VALUE, GRADIENT, INK, FILL = "#1a7f37", "#cf222e", "#57606a", "#f6f8fa"
ROW, MARGIN, CHAR = 96, 24, 7.2  # row spacing, margin, and the width of one 12px character
ARCH = 70  # how far an edge arches above the straight line to clear a node in its way


class Graph:
    """A computational graph with its numbers, shown as SVG in a notebook."""

    def __init__(self, traced: TracedGraph, output: str):
        self.traced, self.output = traced, output
        self.svg = render_svg(traced, output)
        self._shown = False

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
        from ..checks._printed import check_printed

        for name, printed in (values or {}).items():
            check_printed(claim, f"{name} on the graph", self.value(name), printed)
        for name, printed in (grads or {}).items():
            check_printed(claim, f"∂{self.output}/∂{name} on the graph", self.grad(name), printed)

    def _repr_svg_(self) -> str:
        return self.svg

    def _ipython_display_(self):
        if not self._shown:
            from IPython.display import display

            display({"image/svg+xml": self.svg, "text/plain": repr(self)}, raw=True)

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
    graph._shown = True
    return graph


def render_svg(traced: TracedGraph, output: str) -> str:
    """The SVG text of a traced graph."""
    texts = {id(e): (_value_text(e), _grad_text(e)) for e in traced.edges}
    pos = _positions(traced, _columns(traced, texts))
    widths = {n.id: _half_width(n) for n in traced.nodes}
    bends = _bends(traced, pos)
    if any(b < 0 for b in bends):  # room above for edges that arch over other nodes
        pos = {k: (x, y + ARCH / 2) for k, (x, y) in pos.items()}
    width = max(x for x, _ in pos.values()) + MARGIN + 40
    height = max(y for _, y in pos.values()) + (90 if any(b > 0 for b in bends) else 60)
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


def _columns(traced: TracedGraph, texts) -> list[float]:
    """The x of each layer. The gap after a layer is twice its longest label, so that the
    labels of edges converging on one node stay apart (see _edge_svg)."""
    layer_of = {n.id: n.layer for n in traced.nodes}
    longest = [0] * (max(layer_of.values()) + 1)
    for e in traced.edges:
        chars = max(len(t) for t in texts[id(e)])
        longest[layer_of[e.source]] = max(longest[layer_of[e.source]], chars)
    xs = [MARGIN + 30.0]
    for chars in longest[:-1]:
        xs.append(xs[-1] + max(110.0, 2 * CHAR * chars + 40))
    return xs


def _positions(traced: TracedGraph, columns: list[float]) -> dict[str, tuple[float, float]]:
    """x by layer; y from the output backwards: a node's inputs fan out around it, in operand
    order (the first operand above), and nodes of one layer are pushed apart to a row each."""
    targets: dict[str, list[str]] = {}
    sources: dict[str, list[str]] = {}
    for e in traced.edges:
        targets.setdefault(e.source, []).append(e.target)
        if e.source not in sources.setdefault(e.target, []):
            sources[e.target].append(e.source)
    y: dict[str, float] = {}
    for layer in range(max(n.layer for n in traced.nodes), -1, -1):
        wanted = []
        for order, n in enumerate(n for n in traced.nodes if n.layer == layer):
            slots = [y[t] + (sources[t].index(n.id) - (len(sources[t]) - 1) / 2) * ROW
                     for t in dict.fromkeys(targets.get(n.id, [])) if t in y]
            wanted.append((sum(slots) / len(slots) if slots else ROW * order, order, n.id))
        floor = -np.inf
        for want, _, node in sorted(wanted):
            y[node] = floor = max(want, floor + ROW)
    top = min(y.values())
    layer_of = {n.id: n.layer for n in traced.nodes}
    return {k: (columns[layer_of[k]], v - top + MARGIN + 24) for k, v in y.items()}


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
    """A line (or a curve) with its value above and its gradient below, clear of the line.

    On a straight edge the labels start just after the node the value leaves, where edges
    that converge on one node are still far apart; on a curve they sit at its middle.
    """
    (x1, y1), (x2, y2) = pos[edge.source], pos[edge.target]
    x1, x2 = x1 + widths[edge.source], x2 - widths[edge.target]
    value, grad = texts
    path = (f'<path d="M{x1:.1f},{y1:.1f} Q{(x1 + x2) / 2:.1f},{(y1 + y2) / 2 + bend:.1f} '
            f'{x2:.1f},{y2:.1f}" fill="none" stroke="{INK}" stroke-width="1.3" '
            f'marker-end="url(#gradbook-arrow)"/>')
    if bend or edge.source.startswith("copy"):  # edges leaving one point: label mid-way
        x, anchor = (x1 + x2) / 2, "middle"
        above, below = (y1 + y2) / 2 + bend / 2 - 6, (y1 + y2) / 2 + bend / 2 + 15
        if not bend and y2 != y1:  # a branch leaving its row: both labels on its outer side,
            step = 21 if y2 > y1 else -21  # clear of the labels of a branch that stays level
            above, below = above + step, below + step
    else:
        slope = (y2 - y1) / max(x2 - x1, 1.0)
        x, anchor = x1 + 8, "start"
        span_v, span_g = CHAR * len(value), CHAR * len(grad)
        above = y1 + min(slope * 8, slope * (8 + span_v)) - 5
        below = y1 + max(slope * 8, slope * (8 + span_g)) + 15
    return [path,
            f'<text x="{x:.1f}" y="{above:.1f}" text-anchor="{anchor}" fill="{VALUE}">'
            f'{escape(value)}</text>',
            f'<text x="{x:.1f}" y="{below:.1f}" text-anchor="{anchor}" fill="{GRADIENT}">'
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
