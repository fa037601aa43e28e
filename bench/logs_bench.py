"""Compiler-log parsing throughput on the corpus logs."""

from __future__ import annotations

import os
import time

from tpulens.analyzer.ground_truth import CORPUS
from tpulens.analyzer.logs import parse_log

CORPUS_LOGS = CORPUS / "logs"


def run(repeat: int = 20) -> list[dict]:
    """Log-parsing throughput on the corpus logs (for `make bench`); [] without the corpus."""
    corpus = CORPUS_LOGS
    texts = [p.read_text(encoding="utf-8", errors="replace")
             for p in sorted(corpus.glob("*.log"))] if corpus.is_dir() else []
    if not texts:
        return []
    size = sum(len(t.encode()) for t in texts)
    start = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            parse_log(text)
    seconds = time.perf_counter() - start
    return [{"name": "parse_log corpus", "files": len(texts), "bytes": size * repeat,
             "seconds": round(seconds, 4), "mb_per_s": round(size * repeat / seconds / 1e6, 2),
             "logs_per_s": round(len(texts) * repeat / seconds, 1),
             "load_average_1min": round(os.getloadavg()[0], 2)}]
