"""Report benchmarks for `make bench`: build time against input size, and page weight.

Inputs are synthetic (tests/sample_results.py, tests/sample_graphs.py), generated outside the
timed region. Each row is a dict: {"benchmark", "value", "unit", "detail"}. Build times include
writing plotly.js (4.8 MB) once.
"""

from __future__ import annotations

import gzip
import sys
import tempfile
import time
from pathlib import Path

from tpulens.report.site import PLOTLY_ASSET, build_site

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # fixtures import by name
import sample_graphs  # noqa: E402
import sample_results as sample  # noqa: E402

RECORD_COUNTS = (10, 100, 1000)
OPS = 1000


def _timed_build(results: Path, out: Path, extra: list[Path] = (), repeat: int = 1) -> float:
    """Best wall time of `repeat` builds (the first also pays template compilation)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        build_site(results, out, extra)
        best = min(best, time.perf_counter() - start)
    return best


def page_weight(site: Path, page: str) -> int:
    """Bytes a browser loads for `page`: the HTML and the site's own CSS/JS, not plotly.js."""
    assets = [p for p in (site / "assets").iterdir() if p.name != Path(PLOTLY_ASSET).name]
    return (site / page).stat().st_size + sum(p.stat().st_size for p in assets)


def diagnostics_rows(tmp: Path, ops: int, repeat: int) -> list[dict]:
    """The build of one diagnostics page of `ops` ops shaped like a network (branches, joins,
    an Edge TPU partition cut), its op graph laid out by dot included, and what the page weighs."""
    empty = tmp / "empty"
    empty.mkdir()
    analysis = sample.write(
        tmp, "big/analysis.json", sample_graphs.branching_analysis("big.tflite", ops)
    )
    seconds = _timed_build(empty, tmp / "s-ops", [analysis], repeat=repeat)
    site = tmp / "s-ops"
    html = (site / "models" / "analysis.html").read_bytes()
    graph = "with its op graph" if b'<svg class="op-graph"' in html else "NO op graph (no dot?)"
    return [
        {
            "benchmark": f"report.diagnostics_{ops}_ops",
            "value": round(seconds, 3),
            "unit": "s",
            "detail": f"whole build of a {ops}-op page {graph}",
        },
        {
            "benchmark": f"report.diagnostics_{ops}_ops_weight",
            "value": page_weight(site, "models/analysis.html"),
            "unit": "bytes",
            "detail": f"HTML {len(html):,} B ({len(gzip.compress(html)):,} B gzip) + css + js; "
            "no plotly.js",
        },
    ]


def run(
    record_counts: tuple[int, ...] = RECORD_COUNTS, ops: int = OPS, repeat: int = 2
) -> list[dict]:
    """Rows for `make bench`; small builds are timed `repeat` times (best kept)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_site(sample.write_study_results(tmp / "warm"), tmp / "warm-site")  # imports
        for n in record_counts:
            results = sample.write_scaling_results(tmp / f"r{n}", n)
            seconds = _timed_build(results, tmp / f"s{n}", repeat=repeat if n <= 100 else 1)
            pages = sum(1 for _ in (tmp / f"s{n}").rglob("*.html"))
            rows.append(
                {
                    "benchmark": f"report.build_{n}_records",
                    "value": round(seconds, 3),
                    "unit": "s",
                    "detail": f"{pages} pages, {seconds * 1000 / n:.2f} ms per record",
                }
            )
        rows += diagnostics_rows(tmp, ops, repeat)
        study = tmp / "study-site"
        build_site(tmp / "warm", study)
        rows.append(
            {
                "benchmark": "report.overview_weight_without_plotlyjs",
                "value": page_weight(study, "index.html"),
                "unit": "bytes",
                "detail": "index.html + style.css + site.js (study fixture)",
            }
        )
        experiment = sorted((study / "experiments").glob("*.html"))[0]
        rows.append(
            {
                "benchmark": "report.experiment_weight_without_plotlyjs",
                "value": page_weight(study, f"experiments/{experiment.name}"),
                "unit": "bytes",
                "detail": f"experiments/{experiment.name} + css + js, charts as embedded JSON",
            }
        )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
