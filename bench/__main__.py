"""Print every benchmark table: `make bench` (or `python -m bench analyzer logs ...`)."""

from __future__ import annotations

import sys

import pandas as pd


def sections(names: list[str]) -> dict:
    """Import each area's benchmark lazily: report and runners pull in heavier stacks."""
    out: dict[str, list[dict]] = {}
    if "analyzer" in names:
        from bench import analyzer_bench

        out.update(analyzer_bench.run())
    if "estimate" in names:
        from bench import estimate_bench

        out["Edge TPU cost estimate: what it adds to analyze"] = estimate_bench.run()
    if "partition" in names:
        from bench import partition_bench

        out["Partitioner on alternating CPU/TPU chains"] = partition_bench.run()
    if "logs" in names:
        from bench import logs_bench

        out["Compiler-log parsing (corpus logs)"] = logs_bench.run()
    if "report" in names:
        from bench import report_bench

        out["Site build"] = report_bench.run()
    if "op_graph" in names:
        from bench import op_graph_bench

        out["Op graph (Graphviz layout + SVG of one analysis)"] = op_graph_bench.run()
    if "runners" in names:
        from bench import runners_bench

        out["Runners: time per stage and step kind, per worker, quick run"] = runners_bench.run()
    return out


def main(argv: list[str]) -> int:
    names = argv or ["analyzer", "estimate", "partition", "logs", "report", "op_graph", "runners"]
    pd.set_option("display.width", 200, "display.max_columns", 20)
    for title, rows in sections(names).items():
        print(f"\n== {title}")
        print(pd.DataFrame(rows).to_string(index=False) if rows else "(no rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
