"""A wide graph laid out top to bottom, so that it fits a notebook's width.

Layers become rows. Below each row runs a label band: every edge leaves its node straight down
through the band, with its value (green) and gradient (red) just right of it, inside the width
reserved for that node; an edge that spans several rows passes each of them in a slot of its
own. Edges change direction only between bands, so no edge runs through a label. A branch point
is a short bar with one port per branch, each branch's gradient beside its own port, so every
label at a join sits next to the one edge it belongs to.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ._canvas import Canvas
from ._trace import TracedGraph

NODE_H, BAND_H, GAP_H = 38, 34, 40  # a row of nodes, its label band, and the gap below
ROW_H = NODE_H + BAND_H + GAP_H
SPACE, MARGIN = 18, 24  # between neighbouring slots; around the drawing
LEGEND = 330  # the width the legend needs


@dataclass
class _Item:
    """Something that takes a slot in a row: a node, or an edge passing the row."""

    id: str
    layer: int
    left: float
    right: float
    ports: list = field(default_factory=lambda: [0.0])  # x offsets of outgoing edges
    x: float = 0.0


def render_down(traced: TracedGraph, output: str, texts: dict) -> Canvas:
    """The graph top to bottom; `texts` gives each edge's (value, gradient) label."""
    from ._drawing import CHAR, GRADIENT, VALUE, _half_width, draw_node, legend

    nodes = {n.id: n for n in traced.nodes}
    out_edges: dict[str, list] = {}
    for e in traced.edges:
        out_edges.setdefault(e.source, []).append(e)
    items: dict[str, _Item] = {}
    for n in traced.nodes:
        mine = out_edges.get(n.id, [])
        if n.kind == "copy":  # one port per branch, each as wide as its gradient label
            slots = [max(24.0, CHAR * len(texts[id(e)][1]) + 12) for e in mine]
            ports = [sum(slots[:i]) for i in range(len(slots))]
            items[n.id] = _Item(n.id, n.layer, 6.0, sum(slots), ports or [0.0])
        else:
            half = _half_width(n)
            label = max((CHAR * len(t) for e in mine for t in texts[id(e)]), default=0.0)
            items[n.id] = _Item(n.id, n.layer, half, max(half, label + 8))
    chains = []  # per edge: (edge, port index, the items it passes through, in order)
    for e in traced.edges:
        port = [o is e for o in out_edges[e.source]].index(True)
        chain = [items[e.source]]
        for layer in range(nodes[e.source].layer + 1, nodes[e.target].layer):
            chain.append(_Item(f"pass{len(items)}", layer, 6.0, 6.0))
            items[chain[-1].id] = chain[-1]
        chain.append(items[e.target])
        chains.append((e, port, chain))
    _place(items, chains)
    _straighten(items, chains)
    chains = _uncross_branches(items, chains, {id(e): CHAR * len(texts[id(e)][1]) for e in traced.edges})
    shift = MARGIN - min(i.x - i.left for i in items.values())
    for i in items.values():
        i.x += shift
    width = max(max(i.x + i.right for i in items.values()) + MARGIN, LEGEND)
    rows = max(i.layer for i in items.values()) + 1
    height = MARGIN + rows * ROW_H - GAP_H + 36
    canvas = Canvas(round(width), round(height))
    top = {layer: MARGIN + layer * ROW_H for layer in range(rows)}
    inputs_of: dict[str, list] = {}
    for e, _, _ in chains:
        inputs_of.setdefault(e.target, []).append(e)
    for e, port, chain in chains:
        source = chain[0]
        px = source.x + source.ports[port]
        y0 = top[source.layer] + NODE_H / 2 + _bottom(nodes[e.source])
        band = top[source.layer] + NODE_H
        points = [(px, y0), (px, band + BAND_H)]
        for passing in chain[1:-1]:
            points += [(passing.x, top[passing.layer]), (passing.x, top[passing.layer] + NODE_H + BAND_H)]
        target = chain[-1]
        siblings = inputs_of[e.target]
        points.append(_entry(nodes[e.target], target.x, top[target.layer] + NODE_H / 2,
                             [o is e for o in siblings].index(True), len(siblings)))
        canvas.line(points)
        value, grad = texts[id(e)]
        if nodes[e.source].kind == "copy":  # a branch: its own gradient beside its own port
            canvas.text(px + 6, band + 13, grad, GRADIENT)
        else:
            canvas.text(px + 6, band + 13, value, VALUE)
            canvas.text(px + 6, band + 28, grad, GRADIENT)
    for n in traced.nodes:
        item = items[n.id]
        if n.kind == "copy" and len(item.ports) > 1:
            y = top[item.layer] + NODE_H / 2
            canvas.line([(item.x, y), (item.x + item.ports[-1], y)], arrow=False)
        draw_node(canvas, n, item.x, top[item.layer] + NODE_H / 2)
    legend(canvas, output, height - 14)
    return canvas


def _place(items: dict, chains) -> None:
    """x for every slot, from the output upwards: each slot where the things it feeds want it
    (operands in order, first on the left), then a row's slots pushed apart and re-centred."""
    feeds: dict[str, list] = {}
    operands: dict[str, list] = {}
    for e, port, chain in chains:
        for k in range(len(chain) - 1):
            feeds.setdefault(chain[k].id, []).append((chain[k + 1], port if k == 0 else 0, e))
            operands.setdefault(chain[k + 1].id, []).append(chain[k].id)
    rows: dict[int, list] = {}
    for item in items.values():
        rows.setdefault(item.layer, []).append(item)
    for layer in sorted(rows, reverse=True):
        wanted = []
        for order, item in enumerate(rows[layer]):
            slots = []
            for nxt, port, _ in feeds.get(item.id, []):
                k = operands[nxt.id]
                slots.append(nxt.x + (k.index(item.id) - (len(k) - 1) / 2) * 40 - item.ports[port])
            wanted.append((sum(slots) / len(slots) if slots else math.inf, order, item))
        placed = [w for w in wanted if w[0] != math.inf]
        spare = max((w[0] for w in placed), default=0.0)
        wanted = sorted(placed) + [(spare, o, i) for _, o, i in wanted if _ == math.inf]
        floor, moved = -math.inf, []
        for want, _, item in wanted:
            item.x = max(want, floor + item.left)
            floor = item.x + item.right + SPACE
            moved.append(item.x - want)
        centre = sum(moved) / len(moved)
        for _, _, item in wanted:
            item.x -= centre


def _uncross_branches(items: dict, chains, label_width: dict) -> list:
    """A branch point's ports in the order of where their branches go, left to right, so that
    branches leaving one bar do not cross just below it."""
    by_source: dict[str, list] = {}
    for k, (e, _, chain) in enumerate(chains):
        by_source.setdefault(e.source, []).append(k)
    chains = list(chains)
    for source, ks in by_source.items():
        if len(ks) < 2:
            continue
        ordered = sorted(ks, key=lambda k: (chains[k][2][1].x, chains[k][1]))
        offset, ports = 0.0, []
        for position, k in enumerate(ordered):
            e, _, chain = chains[k]
            chains[k] = (e, position, chain)
            ports.append(offset)
            offset += max(24.0, label_width[id(e)] + 12)
        items[source].ports = ports
    return chains


def _straighten(items: dict, chains) -> None:
    """An edge passing several rows goes straight down where its slots can all line up."""
    rows: dict[int, list] = {}
    for item in items.values():
        rows.setdefault(item.layer, []).append(item)
    for _, _, chain in chains:
        passing = chain[1:-1]
        if len(passing) < 2:
            continue
        for x in sorted((p.x for p in passing), key=lambda x: abs(x - passing[0].x)):
            if all(_free(rows[p.layer], p, x) for p in passing):
                for p in passing:
                    p.x = x
                break


def _free(row, item, x: float) -> bool:
    return all(other is item or x + item.right + SPACE <= other.x - other.left
               or other.x + other.right + SPACE <= x - item.left for other in row)


def _bottom(node) -> float:
    return {"copy": 0.0, "op": 18.0}.get(node.kind, 14.0)


def _entry(node, x: float, y: float, index: int, count: int) -> tuple[float, float]:
    """Where an edge meets its target: operands spread along the top, first on the left."""
    if node.kind == "copy":
        return x, y - 5
    from ._drawing import _half_width

    half = _half_width(node)
    dx = (index - (count - 1) / 2) * min(14.0, 1.4 * half / max(count, 1))
    if node.kind == "op":
        return x + dx, y - 18 * math.sqrt(max(0.0, 1 - (dx / half) ** 2)) - 1
    return x + dx, y - 15
