"""SVG charts of the end-to-end benchmark, drawn from the JSON it writes.

Run::

    python -m benchmarks.charts                # every docs/bench/*.json -> docs/bench/*.svg
    python -m benchmarks.charts FILE.json ...  # those files (SVGs beside each)

``python -m benchmarks.e2e --write-docs`` keeps its JSON in ``docs/bench/e2e.json`` and calls
:func:`render` itself, so the charts on ``docs/benchmarks.md`` are regenerated with the tables
and committed next to the numbers they come from.

For every JSON file and every broker in it, three charts (file names
``<json stem>-<broker>-<kind>.svg``):

* ``produce``: msg/s and client CPU µs/msg of the cases that send (and the broker's CPU
  µs/msg when the run measured it, as ``benchmarks.ws`` does: ``ws.json``, ours over
  ``tcp://`` and ``ws://`` and stomp.py's WebSocket transport per broker);
* ``consume``: the same for the cases that consume (``consume*``, ``ack*``);
* ``latency``: p50 and p99 send->receive latency per client (log scale).

Clients are whatever the JSON holds (``raw``, ``ours``, ``stomp.py``, ``stompest`` today;
an asyncio or WebSocket variant of ours, or ``stompman``, appear when a run measured them),
in a fixed order and colour where known. Only cases where a client moved every message are
drawn (n/a, WRONG and ERROR cells are left out: the tables say why). The SVGs are
deterministic (no dates, fixed ids), so an unchanged JSON gives unchanged files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "docs" / "bench"
KINDS = ("produce", "consume", "latency")
#: known clients: drawing order and colour; others follow in the JSON's order
KNOWN = {
    "raw": "#9e9e9e",
    "ours": "#1f5fbf",
    "ours-aio": "#4fa3e0",
    "ours-asyncio": "#4fa3e0",
    "ours-tcp": "#1f5fbf",
    "ours-ws": "#7cc4c4",
    "ours-websocket": "#7cc4c4",
    "stomp.py": "#e8862a",
    "stomp.py-ws": "#f4b97a",
    "stompest": "#4c9a3f",
    "stompman": "#8e5bb5",
}
EXTRA_COLOURS = ("#c44e52", "#8c6d31", "#dd8ad2", "#5f5f5f")
SHORT = {
    "produce": "produce",
    "produce-headers": "produce + headers",
    "produce-tx": "produce in tx of 100",
    "produce-tx-confirmed": "produce in tx, COMMIT confirmed",
    "receipt-single": "receipted, one at a time",
    "receipt-pipelined": "receipted, pipelined",
    "threads": "produce, 16 threads",
    "produce-failover": "produce via failover:",
    "produce-tracked": "produce, trackMessages",
    "consume": "consume, ACK each",
    "consume-headers": "consume + headers",
    "ack-tx": "ACK in tx of 100",
    "consume-failover": "consume via failover:",
    "consume-tracked": "consume, trackMessages",
}


def kind_of(case: str) -> str | None:
    """Which chart a case belongs to (None: drawn on none, e.g. ``rss``)."""
    if case.startswith("latency"):
        return "latency"
    if case.startswith(("consume", "ack")):
        return "consume"
    if case.startswith(("produce", "receipt", "threads", "send")):
        return "produce"
    return None


def clients_of(summary: dict[str, dict[str, Any]]) -> list[str]:
    """Every client in ``summary`` (case -> client -> entry), known ones first in KNOWN order."""
    seen: list[str] = []
    for entries in summary.values():
        seen += [c for c in entries if c not in seen]
    return [c for c in KNOWN if c in seen] + [c for c in seen if c not in KNOWN]


def colours(clients: Sequence[str]) -> dict[str, str]:
    extra = iter(EXTRA_COLOURS * (1 + len(clients) // len(EXTRA_COLOURS)))
    return {c: KNOWN[c] if c in KNOWN else next(extra) for c in clients}


def _value(entry: dict[str, Any] | None, key: str) -> float | None:
    if not entry or entry.get("status") != "ok" or entry.get("skipped"):
        return None
    value = entry.get(key)
    return float(value) if value is not None else None


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.hashsalt": "stomp-enterprise",  # fixed element ids: reproducible files
            "svg.fonttype": "none",  # text stays text (searchable, smaller)
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    _plt().close(fig)
    return path


#: the panels of a throughput chart: (entry key, x-axis label); the broker's CPU only when
#: the run measured it (``benchmarks.ws`` with the broker's PID)
PANELS = (
    ("msgs_per_s", "messages per second (wall clock, higher is better)"),
    ("cpu_us_per_msg", "client CPU µs per message (lower is better)"),
    ("broker_cpu_us_per_msg", "broker CPU µs per message (lower is better)"),
)


def throughput_chart(
    summary: dict[str, dict[str, Any]], kind: str, title: str, path: Path
) -> Path | None:
    """msg/s (top), client CPU µs/msg and, when measured, broker CPU µs/msg (below) of the
    ``kind`` cases; None: no data."""
    cases = [c for c in summary if kind_of(c) == kind]
    clients = clients_of({c: summary[c] for c in cases})
    if not cases or not clients:
        return None
    panels = [
        (key, label)
        for key, label in PANELS
        if any(_value(summary[c].get(client), key) is not None for c in cases for client in clients)
        or key != "broker_cpu_us_per_msg"
    ]
    plt = _plt()
    palette = colours(clients)
    height = 1.0 + 0.32 * len(cases) * max(2, len(clients)) / 2
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.2, len(panels) * height), sharey=True)
    rate_ax = axes[0]
    bar = 0.8 / len(clients)
    for index, client in enumerate(clients):
        ys = [row + index * bar for row in range(len(cases))]  # top to bottom: legend order
        for ax, (key, _) in zip(axes, panels, strict=True):
            values = [_value(summary[c].get(client), key) for c in cases]
            drawn = [(y, v) for y, v in zip(ys, values, strict=True) if v is not None]
            if drawn:
                ax.barh(
                    [y for y, _ in drawn],
                    [v for _, v in drawn],
                    height=bar,
                    color=palette[client],
                    label=client,
                )
    centre = [row + 0.4 - bar / 2 for row in range(len(cases))]
    rate_ax.set_yticks(centre, [SHORT.get(c, c) for c in cases])
    rate_ax.invert_yaxis()
    for ax, (_, label) in zip(axes, panels, strict=True):
        ax.set_xlabel(label)
    rate_ax.xaxis.set_major_formatter(_thousands())
    handles, labels = rate_ax.get_legend_handles_labels()
    fig.suptitle(title, x=0.02, y=0.995, ha="left", fontsize=10)
    fig.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.55, 0.955),
        frameon=False,
        ncols=min(5, len(clients)),
    )
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
        ax.set_axisbelow(True)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return _save(fig, path)


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value / 1000:g}k" if value else "0")


def latency_chart(summary: dict[str, dict[str, Any]], title: str, path: Path) -> Path | None:
    """p50 and p99 send->receive latency per client (ms, log scale); None: no data."""
    cases = [c for c in summary if kind_of(c) == "latency"]
    if not cases:
        return None
    entries = summary[cases[0]]
    clients = [c for c in clients_of({cases[0]: entries}) if _value(entries[c], "p50_ms")]
    if not clients:
        return None
    plt = _plt()
    palette = colours(clients)
    fig, ax = plt.subplots(figsize=(7.2, 0.9 + 0.55 * len(clients)))
    for row, client in enumerate(clients):
        p50 = _value(entries[client], "p50_ms") or 0.0
        p99 = _value(entries[client], "p99_ms") or 0.0
        ax.barh(row - 0.2, p50, height=0.38, color=palette[client])
        ax.barh(row + 0.2, p99, height=0.38, color=palette[client], alpha=0.45)
        ax.text(p50, row - 0.2, f" p50 {p50:.2f}", va="center", fontsize=8)
        ax.text(p99, row + 0.2, f" p99 {p99:.1f}", va="center", fontsize=8)
    ax.set_yticks(range(len(clients)), clients)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("send -> receive latency, ms (log scale, lower is better)")
    ax.set_title(title, loc="left")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    return _save(fig, path)


def chart_path(json_path: Path, broker: str, kind: str) -> Path:
    return json_path.with_name(f"{json_path.stem}-{broker}-{kind}.svg")


def render(json_path: Path) -> list[Path]:
    """Every chart of one benchmark JSON file, written beside it; the paths written."""
    data = json.loads(json_path.read_text(encoding="utf-8"))
    count = data.get("settings", {}).get("count")
    label = f" {data['label']}" if data.get("label") else ""  # e.g. "over WebSocket"
    written: list[Path] = []
    for broker, info in data["brokers"].items():
        summary: dict[str, dict[str, Any]] = info["summary"]
        name = f"{broker} {info.get('version', '')}".strip()
        n = f", N = {count:,}" if count else ""
        for kind in ("produce", "consume"):
            out = throughput_chart(
                summary, kind, f"{kind}{label}: {name}{n}", chart_path(json_path, broker, kind)
            )
            written += [out] if out else []
        out = latency_chart(summary, f"latency: {name}", chart_path(json_path, broker, "latency"))
        written += [out] if out else []
    return written


def markdown(json_path: Path, docs_dir: Path, level: int = 2) -> list[str]:
    """Markdown lines showing the charts of ``json_path`` (paths relative to ``docs_dir``),
    under a heading of ``level`` (its brokers one level below)."""
    data = json.loads(json_path.read_text(encoding="utf-8"))
    lines = [
        "#" * level + " Charts",
        "",
        f"Drawn by `python -m benchmarks.charts` from [`{json_path.name}`]"
        f"({json_path.relative_to(docs_dir).as_posix()}), the JSON of the run whose exact "
        "figures are in the tables below.",
        "",
    ]
    for broker, info in data["brokers"].items():
        lines += [f"{'#' * (level + 1)} {broker} {info.get('version', '')}".rstrip(), ""]
        for kind in KINDS:
            path = chart_path(json_path, broker, kind)
            if path.exists():
                rel = path.relative_to(docs_dir).as_posix()
                lines += [f"![{kind} on {broker}: ours vs the other clients]({rel})", ""]
    return lines


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", nargs="*", type=Path, help=f"(default: {DATA_DIR}/*.json)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    files = args.json or sorted(DATA_DIR.glob("*.json"))
    if not files:
        print(f"no benchmark JSON in {DATA_DIR}", file=sys.stderr)
        return 1
    for path in files:
        for out in render(path):
            print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
