"""Pictures: the metric across iterations, and a workflow's DAG (PNG or SVG, and DOT text).

matplotlib is imported only here and only when a picture is drawn, through its
object-oriented API (``Figure``), so no global backend or pyplot state is touched. The
DAG is laid out without graphviz: layers by longest path from the sources, top to
bottom, each layer ordered by the mean position of its parents to keep edges short.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IMAGE_FORMATS = ("png", "svg")
KIND_COLOURS = {
    "pre-processing": "#1f77b4",
    "learning": "#ff7f0e",
    "evaluation": "#2ca02c",
    "mixed": "#9467bd",
    "none": "#7f7f7f",
    "first": "#000000",
}
STATE_COLOURS = {
    "computed": "#f4a261",
    "loaded": "#8ecae6",
    "pruned": "#e9ecef",
    "changed": "#e76f51",
}
_DOT_SHAPES = {"source": "cylinder", "op": "box", "metric": "ellipse", "output": "note"}
_SUBJECT_CHARS = 32
_METADATA: dict[str, dict[str, Any]] = {  # no creation date: the same input, the same file
    "png": {"Software": "helixvcs"},
    "svg": {"Date": None, "Creator": "helixvcs"},
}


@dataclass(frozen=True)
class ChartPoint:
    x: int  # position in first-parent order
    value: float
    kind: str  # a key of KIND_COLOURS
    label: str  # short sha and subject


@dataclass(frozen=True)
class DagNode:
    name: str
    kind: str  # source | op | metric | output
    state: str  # a key of STATE_COLOURS
    parents: tuple[str, ...]


def metric_chart(points: Sequence[ChartPoint], metric: str, fmt: str) -> bytes:
    """A line of ``metric`` over iterations, points coloured by kind, annotated."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(max(6.0, 0.9 * len(points) + 2), 4.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([p.x for p in points], [p.value for p in points], color="#bbbbbb", zorder=1)
    for p in points:
        ax.scatter([p.x], [p.value], color=KIND_COLOURS[p.kind], s=42, zorder=2)
        ax.annotate(
            _short(p.label), (p.x, p.value), textcoords="offset points", xytext=(4, 6),
            rotation=30, fontsize=7, ha="left", va="bottom",
        )  # fmt: skip
    kinds = [k for k in KIND_COLOURS if any(p.kind == k for p in points)]
    handles = [
        Line2D([], [], marker="o", linestyle="", color=KIND_COLOURS[k], label=k) for k in kinds
    ]
    ax.legend(handles=handles, title="change", fontsize=8, loc="best")
    ax.set_xlabel("iteration (first-parent order)")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} across iterations")
    ax.margins(x=0.08, y=0.25)
    return _save(fig, fmt)


def dag_picture(nodes: Sequence[DagNode], title: str, fmt: str) -> bytes:
    """The DAG as PNG or SVG, each node filled with the colour of its state."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    pos = layout(nodes)
    width = max(x for x, _ in pos.values()) - min(x for x, _ in pos.values()) + 1
    depth = -min(y for _, y in pos.values()) + 1
    fig = Figure(figsize=(max(5.0, 2.0 * width), max(3.0, 1.0 * depth + 1)), layout="constrained")
    ax = fig.add_subplot()
    for node in nodes:
        for parent in node.parents:
            ax.annotate(
                "", xy=pos[node.name], xytext=pos[parent],
                arrowprops={"arrowstyle": "->", "color": "#555555", "shrinkA": 12, "shrinkB": 12},
            )  # fmt: skip
    for node in nodes:
        x, y = pos[node.name]
        ax.text(
            x, y, node.name, ha="center", va="center", fontsize=9,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": STATE_COLOURS[node.state],
                  "edgecolor": "#333333" if node.kind in ("metric", "output") else "#888888"},
        )  # fmt: skip
    xs = [x for x, _ in pos.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(-depth + 0.5, 0.5)
    ax.set_axis_off()
    ax.set_title(title, fontsize=10)
    legend = [Patch(facecolor=c, edgecolor="#888888", label=s) for s, c in STATE_COLOURS.items()]
    ax.legend(handles=legend, fontsize=8, loc="lower right", frameon=False)
    return _save(fig, fmt)


def _save(fig: Any, fmt: str) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, metadata=_METADATA[fmt])
    return buffer.getvalue()


def layout(nodes: Sequence[DagNode]) -> dict[str, tuple[float, float]]:
    """(x, y) per node: y = -(longest path from a source), x centred within its layer."""
    depth: dict[str, int] = {}
    for node in nodes:  # nodes come in topological order
        depth[node.name] = 1 + max((depth[p] for p in node.parents), default=-1)
    pos: dict[str, tuple[float, float]] = {}
    for level in range(max(depth.values(), default=-1) + 1):
        layer = [n for n in nodes if depth[n.name] == level]
        layer.sort(key=lambda n: _mean([pos[p][0] for p in n.parents]))
        for i, node in enumerate(layer):
            pos[node.name] = (i - (len(layer) - 1) / 2, -float(level))
    return pos


def dot_text(nodes: Sequence[DagNode], title: str) -> str:
    """Graphviz DOT: one statement per node (state colour, kind shape) and per edge."""
    lines = [f"digraph {_quote(title)} {{", "  rankdir=TB;"]
    lines.append('  node [style="rounded,filled", fontname="Helvetica", fontsize=11];')
    for node in nodes:
        shape = _DOT_SHAPES.get(node.kind, "box")
        lines.append(
            f"  {_quote(node.name)} [label={_quote(node.name, node.state)}, shape={shape}, "
            f'fillcolor="{STATE_COLOURS[node.state]}"];'
        )
    for node in nodes:
        for parent in node.parents:
            lines.append(f"  {_quote(parent)} -> {_quote(node.name)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def html_page(svg: str, title: str, rows: Mapping[str, str]) -> str:
    """A standalone page: the SVG inline and a table of operators and states."""
    import html

    cells = "\n".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(state)}</td></tr>"
        for name, state in rows.items()
    )
    body = svg[svg.find("<svg") :]  # drop the XML prolog and doctype
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n{body}\n"
        f"<table>\n<tr><th>operator</th><th>state</th></tr>\n{cells}\n</table>\n"
        "</body></html>\n"
    )


def _quote(*lines: str) -> str:
    """A DOT string literal; several lines are joined with DOT's ``\\n``."""
    escaped = [line.replace("\\", "\\\\").replace('"', '\\"') for line in lines]
    return '"' + "\\n".join(escaped) + '"'


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _short(label: str) -> str:
    return label if len(label) <= _SUBJECT_CHARS else label[: _SUBJECT_CHARS - 1] + "…"
