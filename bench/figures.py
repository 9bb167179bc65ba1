"""Figures drawn from the bench's own markdown tables (bench/results/latest.md, quality.md).

The bench draws its figures from the tables it prints rather than from its raw samples, so a
figure can never disagree with the table next to it.

    python bench/figures.py [MARKDOWN ...] [--out DIR]
"""

from __future__ import annotations

import argparse
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
SIZE = (8.0, 4.5)  # inches
DPI = 110
# One colour per series in every figure: openvertex is always the same blue.
COLORS = {
    "openvertex": "#1f77b4",
    "default install": "#17becf",
    "llama.cpp": "#7f7f7f",
    "direct": "#7f7f7f",
    "LiteLLM": "#d62728",
    "function calling": "#1f77b4",
    "extraction": "#2ca02c",
    "arithmetic (thinking)": "#ff7f0e",
}
STYLE = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#e0e0e0",
    "axes.axisbelow": True,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
}
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
STREAMS = re.compile(r"^aggregate decode tok/s, (\d+) streams?( \(vs direct\))?$")
SCORES = ("function calling", "extraction", "arithmetic (thinking)")


@dataclass
class Table:
    """One markdown table: header cells, body rows, and the last italic line before it."""

    header: list[str]
    rows: list[list[str]]
    caption: str

    def column(self, name: str) -> int | None:
        """Index of the first column whose header starts with `name` (any case)."""
        for i, cell in enumerate(self.header):
            if cell.lower().startswith(name.lower()):
                return i
        return None

    def row(self, metric: str) -> list[str] | None:
        """The first body row whose first cell starts with `metric`."""
        return next((r for r in self.rows if r and r[0].startswith(metric)), None)


def cells(line: str) -> list[str]:
    """A table line's cells, stripped, without the outer pipes."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def is_separator(line: str) -> bool:
    """Whether `line` is a header separator such as `|---|--:|`."""
    return bool(re.fullmatch(r"\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?", line.strip()))


def parse_tables(markdown: str) -> list[Table]:
    """Every table in `markdown` (header row, `|---|` separator, body rows), in order."""
    lines = markdown.splitlines()
    tables: list[Table] = []
    caption = ""
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if re.fullmatch(r"_[^_].*_", line):
            caption = line.strip("_").strip()
        if line.startswith("|") and i + 1 < len(lines) and is_separator(lines[i + 1]):
            header, rows = cells(line), []
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            tables.append(Table(header, rows, caption))
            continue
        i += 1
    return tables


def first_caption(markdown: str) -> str:
    """The first italic line (`_..._`) of `markdown`, without its underscores; "" if none."""
    match = re.search(r"^_([^_].*)_\s*$", markdown, re.MULTILINE)
    return match.group(1).strip() if match else ""


def number(cell: str) -> float | None:
    """The first number in `cell` (before any parenthesis), or None."""
    match = NUMBER.search(cell.replace("\u2212", "-").split("(")[0])
    return float(match.group()) if match else None


def in_parens(cell: str) -> float | None:
    """The number inside the cell's parenthesis (`+9.2`, `+-30.6`, U+2212 minus), or None."""
    match = re.search(r"\(([^)]*)\)", cell)
    if not match:
        return None
    return number(match.group(1).replace("+-", "-").replace("+\u2212", "-"))


def at(row: list[str] | None, col: int | None) -> str:
    """The cell of `row` at `col`, or "" when either is missing."""
    return row[col] if row is not None and col is not None and col < len(row) else ""


def find(tables: list[Table], *columns: str, row: re.Pattern | None = None) -> Table | None:
    """The last table having all these columns (a later run's table wins), and a row whose
    label matches `row` if given (the embeddings table has the main table's columns)."""
    hits = [
        t
        for t in tables
        if all(t.column(c) is not None for c in columns)
        and (row is None or any(row.match(r[0]) for r in t.rows))
    ]
    return hits[-1] if hits else None


def stream_series(table: Table, names: tuple[str, ...]) -> dict[str, list[tuple[int, float]]]:
    """(streams, aggregate tok/s) per column name, from the `aggregate decode tok/s, N` rows."""
    series: dict[str, list[tuple[int, float]]] = {name: [] for name in names}
    for row in table.rows:
        match = STREAMS.match(row[0])
        if not match:
            continue
        for name in names:
            if (value := number(at(row, table.column(name)))) is not None:
                series[name].append((int(match.group(1)), value))
    return {name: sorted(points) for name, points in series.items() if points}


def new_figure(ncols: int, widths: list[float] | None = None) -> tuple[Figure, list[Axes]]:
    """A figure of the standard size with `ncols` panels side by side."""
    fig, axes = plt.subplots(
        1, ncols, figsize=SIZE, dpi=DPI, squeeze=False, width_ratios=widths or [1] * ncols
    )
    return fig, list(axes[0])


def finish(fig: Figure, caption: str, path: Path) -> Path:
    """Add the caption line, save `fig` to `path` and close it."""
    wrapped = textwrap.fill(caption, width=150) if caption else ""
    lines = wrapped.count("\n") + 1 if wrapped else 0
    bottom = 0.02 + 0.035 * lines
    if wrapped:
        fig.text(0.01, 0.015, wrapped, fontsize=6.5, color="#666666", va="bottom")
    fig.tight_layout(rect=(0, bottom, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_streams(ax: Axes, series: dict[str, list[tuple[int, float]]], title: str) -> None:
    """Aggregate tok/s against concurrent streams, one line per series, log2 x axis."""
    counts = sorted({n for points in series.values() for n, _ in points})
    for name, points in series.items():
        xs, ys = zip(*points, strict=True)
        reference = name in ("llama.cpp", "direct")  # dashed, hollow: visible under the others
        ax.plot(
            xs,
            ys,
            marker="o",
            label=name,
            color=COLORS.get(name),
            linestyle="--" if reference else "-",
            markerfacecolor="white" if reference else None,
            zorder=2 if reference else 3,
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.minorticks_off()
    if len(counts) > 1:
        ax.set_xlim(counts[0] / 1.4, counts[-1] * 1.4)
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.1)
    ax.set_xlabel("concurrent streams")
    ax.set_ylabel("aggregate decode, tok/s")
    ax.set_title(title)
    ax.legend(loc="lower right")


def decode_figure(tables: list[Table], caption: str, out: Path) -> Path | None:
    """decode-vs-concurrency.png: main table, and the gateway table in a second panel."""
    main = find(tables, "openvertex", "llama.cpp", row=STREAMS)
    gate = find(tables, "direct", "openvertex", "LiteLLM")
    panels = []
    if main and (series := stream_series(main, ("openvertex", "default install", "llama.cpp"))):
        panels.append((series, "openvertex vs llama.cpp server"))
    if gate and (series := stream_series(gate, ("direct", "openvertex", "LiteLLM"))):
        panels.append((series, "gateways in front of one llama.cpp"))
    if not panels:
        return None
    fig, axes = new_figure(len(panels))
    for ax, (series, title) in zip(axes, panels, strict=True):
        plot_streams(ax, series, title)
    fig.suptitle("aggregate decode throughput vs concurrent streams (tok/s)", fontsize=11)
    return finish(fig, caption, out / "decode-vs-concurrency.png")


def bars(ax: Axes, values: dict[str, float], fmt: str, title: str, ylabel: str) -> None:
    """One bar per gateway, labelled with its value."""
    names = list(values)
    drawn = ax.bar(names, [values[n] for n in names], color=[COLORS.get(n) for n in names])
    ax.bar_label(drawn, fmt=fmt, padding=2, fontsize=8)
    ax.axhline(0, color="#333333", linewidth=0.8)
    low, high = ax.get_ylim()
    ax.set_ylim(min(low, 0), max(high, 0) * 1.15)
    ax.set_title(title)
    ax.set_ylabel(ylabel)


def gateway_figure(tables: list[Table], caption: str, out: Path) -> Path | None:
    """gateway-overhead.png: TTFT p50 added over direct, and gateway CPU per streamed token."""
    gate = find(tables, "direct", "openvertex", "LiteLLM")
    if not gate:
        return None
    names = ("openvertex", "LiteLLM")
    ttft, cpu = gate.row("time to first token p50"), gate.row("gateway CPU per streamed token")
    base = number(at(ttft, gate.column("direct")))
    added: dict[str, float] = {}
    for name in names:
        cell = at(ttft, gate.column(name))
        value = in_parens(cell)
        if value is None and (total := number(cell)) is not None and base is not None:
            value = total - base  # no "(+x)" in the cell: the difference it would show
        if value is not None:
            added[name] = value
    per_token = {n: v for n in names if (v := number(at(cpu, gate.column(n)))) is not None}
    panels = [
        (added, "%+.1f", "time to first token p50, added over direct", "ms"),
        (per_token, "%.0f", "gateway CPU per streamed token", "µs"),
    ]
    panels = [p for p in panels if p[0]]
    if not panels:
        return None
    fig, axes = new_figure(len(panels))
    for ax, (values, fmt, title, unit) in zip(axes, panels, strict=True):
        bars(ax, values, fmt, f"{title} ({unit})", unit)
    fig.suptitle("what a gateway costs: openvertex vs LiteLLM's proxy", fontsize=11)
    return finish(fig, caption, out / "gateway-overhead.png")


def fraction(cell: str) -> tuple[float, str] | None:
    """(percent, "a/b") from a score cell such as `18/20`, or None."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", cell)
    if not match or int(match.group(2)) == 0:
        return None
    a, b = int(match.group(1)), int(match.group(2))
    return 100 * a / b, f"{a}/{b}"


@dataclass
class TierRow:
    """One tier's scores (percent, label or None each), decode rate and an unavailable note."""

    name: str
    scores: list[tuple[float, str] | None]
    decode: float | None
    note: str


def tier_rows(tables: list[Table]) -> tuple[list[TierRow], str]:
    """Rows of every table whose header starts with `tier`; a later row for a tier wins."""
    found: dict[str, TierRow] = {}
    caption = ""
    for table in (t for t in tables if t.header and t.header[0].lower().startswith("tier")):
        caption = table.caption or caption
        cols = [table.column(s) for s in SCORES]
        decode, model = table.column("decode tok/s"), table.column("model")
        for row in table.rows:
            name = row[0] + (f" ({at(row, model)})" if model is not None else "")
            name = name.replace("`", "")
            scores = [fraction(at(row, c)) for c in cols]
            note = "" if any(scores) else (at(row, cols[0]) or "not measured")
            found.pop(name, None)  # a later row for the tier replaces it, at the end
            found[name] = TierRow(name, scores, number(at(row, decode)), note)
    return list(found.values()), caption


def tier_label(row: TierRow) -> str:
    """The tier's name over its decode rate, or over why it was not measured."""
    if row.note:
        return f"{row.name}\n({row.note})"
    speed = f"{row.decode:g} tok/s decode" if row.decode is not None else "decode not measured"
    return f"{row.name}\n{speed}"


def score_panel(ax: Axes, rows: list[TierRow]) -> None:
    """Grouped bars: percent correct per prompt set, one group per tier, labelled `a/b`."""
    width = 0.8 / len(SCORES)
    for j, name in enumerate(SCORES):
        got = [
            (i + (j - (len(SCORES) - 1) / 2) * width, score)
            for i, row in enumerate(rows)
            if (score := row.scores[j]) is not None
        ]
        if got:
            drawn = ax.bar(
                [x for x, _ in got], [p for _, (p, _) in got], width, label=name, color=COLORS[name]
            )
            ax.bar_label(drawn, labels=[label for _, (_, label) in got], padding=2, fontsize=7)
    ax.set_xticks(range(len(rows)), [tier_label(r) for r in rows])
    pad = max(0.0, (3 - len(rows)) / 2)  # one or two tiers: bars as wide as for three
    ax.set_xlim(-0.5 - pad, len(rows) - 0.5 + pad)
    if len(rows) > 4:
        plt.setp(ax.get_xticklabels(), rotation=20, ha="right", rotation_mode="anchor")
    ax.set_ylim(0, 119)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("correct, %")
    ax.legend(loc="upper left", ncols=3)


def quality_figure(tables: list[Table], caption: str, out: Path) -> Path | None:
    """quality.png: percent correct per prompt set per tier, each tier's decode rate below it."""
    rows, own = tier_rows(tables)
    if not rows:
        return None
    fig, axes = new_figure(1)
    score_panel(axes[0], rows)
    axes[0].set_title("correct answers per prompt set (%), decode rate under each tier")
    fig.suptitle("answer quality per tier", fontsize=11)
    return finish(fig, own or caption, out / "quality.png")


def draw(markdown: str, out_dir: Path) -> list[Path]:
    """Write every figure whose table is in `markdown` to `out_dir`; the paths written."""
    tables, caption = parse_tables(markdown), first_caption(markdown)
    written = []
    with plt.rc_context(STYLE):
        for figure in (decode_figure, gateway_figure, quality_figure):
            if (path := figure(tables, caption, out_dir)) is not None:
                written.append(path)
    return written


def main() -> None:
    """`python bench/figures.py [MARKDOWN ...] [--out DIR]`: draw, then print the paths."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "markdown",
        nargs="*",
        type=Path,
        default=[ROOT / "bench" / "results" / "latest.md"],
        help="bench result files, read one after the other (default bench/results/latest.md)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "figures", help="figures dir")
    args = parser.parse_args()
    text = "\n\n".join(path.read_text() for path in args.markdown)
    for path in draw(text, args.out):
        print(path)


if __name__ == "__main__":
    main()
