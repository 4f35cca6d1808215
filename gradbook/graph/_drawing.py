"""Drawing a traced graph: forward values above each edge, gradients below, as SVG and PNG.

The layout is computed here (layers left to right, rows by the average height of a node's
inputs; a graph too wide for a notebook goes top to bottom, see _downward) and drawn on a
Canvas, which writes SVG text (every label a searchable <text>) and a PNG that untrusted
notebooks show; both byte-identical from run to run. No layout engine or system binary.
"""
from __future__ import annotations

import base64
from copy import copy

import numpy as np

from .._display import show
from ._canvas import INK, MAX_WIDTH, Canvas
from ._trace import Edge, TracedGraph, _number, staged_graph, trace_graph
from ._trace import _assign_layers as assign_layers

VALUE, GRADIENT, FILL = "#1a7f37", "#cf222e", "#f6f8fa"
SHAPE_ONLY = {"broadcast_in_dim", "reshape", "squeeze", "expand_dims"}  # drawn through
ROW, MARGIN, CHAR = 96, 24, 7.2  # row spacing, margin, and the width of one 12px character
BOLD_CHAR = 8.6  # the width of one character of a node's 14px bold label
ARCH = 70  # how far an edge arches above the straight line to clear a node in its way


class Graph:
    """A computational graph with its numbers, shown as SVG in a notebook."""

    def __init__(self, traced: TracedGraph, output: str, wrt=None):
        self.traced, self.output = traced, output
        self.canvas = render(traced, output, wrt)
        self.svg = self.canvas.svg()
        self._png = None
        self._shown = False

    @property
    def png(self) -> bytes:
        """The PNG an untrusted notebook shows (drawn once, when first asked for)."""
        if self._png is None:
            self._png = self.canvas.png()
        return self._png

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

    def _repr_png_(self) -> bytes:
        return self.png

    def _ipython_display_(self):
        if not self._shown:
            from IPython.display import display

            display({"image/svg+xml": self.svg, "text/plain": repr(self),
                     "image/png": base64.b64encode(self.png).decode("ascii")}, raw=True)

    def __repr__(self) -> str:
        ops = [n.label for n in self.nodes if n.kind == "op"]
        inputs = [n.label for n in self.nodes if n.kind == "input"]
        return (f"[graph of {self.output}: inputs {', '.join(inputs)}; "
                f"{len(ops)} operation(s): {', '.join(ops)}]")


def draw_graph(f, *args, names=None, output: str = "f", wrt=None) -> Graph:
    """Draw the computational graph of scalar-valued `f` at `args`, with values and gradients.

    Intermediate values named with `named(value, "q")` inside `f` carry their names, and so do
    those a line of `f` assigns (`h = jnp.tanh(...)`). With `wrt` (input names), only what
    those inputs feed carries a gradient.
    """
    from .._float64 import jax
    from ._source_names import name_graph_from_source

    traced = trace_graph(f, *args, names=names, output=output)
    name_graph_from_source(traced, jax.make_jaxpr(f)(*args).jaxpr)
    graph = Graph(traced, output, wrt)
    show(graph)
    graph._shown = True
    return graph


def draw_staged(staged, values: dict, grads: dict, branches: dict, wrt=None) -> Graph:
    """Draw derive's staged nodes with the values and gradients it computed (see staged_graph):
    the graph of its tables, without tracing or compiling the function again."""
    graph = Graph(staged_graph(staged, values, grads, branches), staged.output, wrt)
    show(graph)
    graph._shown = True
    return graph


def render_svg(traced: TracedGraph, output: str, wrt=None) -> str:
    """The SVG text of a traced graph."""
    return render(traced, output, wrt).svg()


def render(traced: TracedGraph, output: str, wrt=None) -> Canvas:
    """The drawing of a traced graph: left to right where that fits a notebook's width, else
    top to bottom (whichever is narrower), scaled down only if even that is too wide."""
    from ._downward import render_down

    traced = fold_shape_only(traced)
    across = _render_across(traced, output, edge_texts(traced, wrt))
    if across.width <= MAX_WIDTH and not across.crossings():
        return across
    down = render_down(traced, output, edge_texts(traced, wrt))
    if down.width > MAX_WIDTH:  # arrays of more than three numbers by their shape instead
        down = render_down(traced, output, edge_texts(traced, wrt, most=3))
    return down if down.width < across.width else across


def fold_shape_only(traced: TracedGraph) -> TracedGraph:
    """The graph with broadcasts and reshapes drawn through: they move numbers, not values, so
    the edge keeps the numbers of the value the user wrote (a bias, not its broadcast copy)."""
    fold = {n.id for n in traced.nodes if n.kind == "op" and n.label in SHAPE_ONLY}
    into = {e.target: e for e in traced.edges if e.target in fold}
    fold = {i for i in fold if sum(e.target == i for e in traced.edges) == 1
            and sum(e.source == i for e in traced.edges) == 1}
    if not fold:
        return traced
    edges = []
    for e in traced.edges:
        if e.target in fold:
            continue
        source = e
        while source.source in fold:
            source = into[source.source]
        edges.append(Edge(source.source, e.target, source.name or e.name, source.value, source.grad)
                      if source is not e else e)
    folded = TracedGraph([copy(n) for n in traced.nodes if n.id not in fold], edges,
                         traced.values, traced.grads)
    assign_layers(folded)
    return folded


def edge_texts(traced: TracedGraph, wrt=None, most: int = 6) -> dict:
    """Each edge's (value, gradient) label, arrays of up to `most` numbers by their values;
    no gradient on what no differentiated input feeds."""
    fed = differentiated(traced, wrt)
    return {id(e): (_value_text(e, most), _grad_text(e, most) if e.source in fed else "")
            for e in traced.edges}


def differentiated(traced: TracedGraph, wrt=None) -> set[str]:
    """The nodes a differentiated input reaches (all of them when wrt is None)."""
    if wrt is None:
        return {n.id for n in traced.nodes}
    wrt = {wrt} if isinstance(wrt, str) else set(wrt)
    reached = {n.id for n in traced.nodes if n.kind == "input" and n.label in wrt}
    for _ in traced.nodes:
        grown = reached | {e.target for e in traced.edges if e.source in reached}
        if grown == reached:
            break
        reached = grown
    return reached


def _render_across(traced: TracedGraph, output: str, texts) -> Canvas:
    """Layers left to right, values above each edge and gradients below."""
    pos = _positions(traced, _columns(traced, texts))
    widths = {n.id: _half_width(n) for n in traced.nodes}
    bends = _bends(traced, pos)
    if any(b < 0 for b in bends):  # room above for edges that arch over other nodes
        pos = {k: (x, y + ARCH / 2) for k, (x, y) in pos.items()}
    width = max(x for x, _ in pos.values()) + MARGIN + 40
    height = max(y for _, y in pos.values()) + (90 if any(b > 0 for b in bends) else 60)
    canvas = Canvas(round(width), round(height))
    for e, bend in zip(traced.edges, bends):
        _edge(canvas, e, pos, widths, texts[id(e)], bend)
    for n in traced.nodes:
        draw_node(canvas, n, *pos[n.id])
    legend(canvas, output, height - 12)
    return canvas


def legend(canvas: Canvas, output: str, y: float) -> None:
    """What the two colours mean, at the bottom left."""
    canvas.text(MARGIN, y, "value (forward)", VALUE)
    canvas.text(MARGIN + 120, y, f"gradient of {output} (backward)", GRADIENT)


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
    return max(18.0, BOLD_CHAR * len(node.label) / 2 + 10)


def draw_node(canvas: Canvas, node, x: float, y: float) -> None:
    """An operation as an ellipse, an input or the output as a box, a branch point as a dot."""
    if node.kind == "copy":
        canvas.dot(x, y)
        return
    w = _half_width(node)
    if node.kind == "op":
        canvas.ellipse(x, y, w, 18, FILL)
    else:
        canvas.box(x - w, y - 14, 2 * w, 28, "white")
    canvas.text(x, y + 4.5, node.label, "#24292f", anchor="middle", size=14, bold=True)


def _edge(canvas: Canvas, edge, pos, widths, texts, bend) -> None:
    """A line (or a curve) with its value above and its gradient below, clear of the line.

    On a straight edge the labels start just after the node the value leaves, where edges
    that converge on one node are still far apart; on a curve they sit at its middle.
    """
    (x1, y1), (x2, y2) = pos[edge.source], pos[edge.target]
    x1, x2 = x1 + widths[edge.source], x2 - widths[edge.target]
    value, grad = texts
    canvas.line([(x1, y1), ((x1 + x2) / 2, (y1 + y2) / 2 + bend), (x2, y2)], curve=True)
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
    canvas.text(x, above, value, VALUE, anchor=anchor)
    canvas.text(x, below, grad, GRADIENT, anchor=anchor)


def _value_text(edge, most: int = 6) -> str:
    text = _array_text(edge.value, most)
    return f"{edge.name} = {text}" if edge.name else text


def _grad_text(edge, most: int = 6) -> str:
    return "" if edge.grad is None else _array_text(edge.grad, most)


def _array_text(a, most: int = 6) -> str:
    """Scalars as numbers; arrays of up to `most` numbers as their values; larger ones by shape."""
    a = np.asarray(a)
    if a.ndim == 0:
        return _number(a)
    shape = "×".join(map(str, a.shape))
    if a.size > most or a.ndim > 2:
        kind = {1: "-vector", 2: " matrix"}.get(a.ndim, " array")
        return f"({shape}{kind})"
    if a.ndim == 1:
        return "[" + ", ".join(_number(v) for v in a) + "]"
    return "[" + "; ".join(", ".join(_number(v) for v in row) for row in a) + "]"
