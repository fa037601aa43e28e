"""Analyzer speed and memory: in-process parse + analyze, and whole processes against
TensorFlow's own model analyzer on the same files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

from tpulens.analyzer.analyze import analyze_model, make_options
from tpulens.analyzer.batch import collector_paused
from tpulens.analyzer.ground_truth import CORPUS
from tpulens.analyzer.model import read_model

ROOT = Path(__file__).resolve().parents[1]

CACHE = ROOT / ".cache" / "tpulens"
MEDIAPIPE_MODEL = "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite"
TF_ANALYZER = ("import sys, tensorflow as tf; "
               "tf.lite.experimental.Analyzer.analyze(model_path=sys.argv[1])")


def mediapipe_model() -> Path | None:
    """The ~700-op face landmark model shipped inside mediapipe==0.10.21 (fetched once)."""
    target = CACHE / "bench" / MEDIAPIPE_MODEL
    if target.exists():
        return target
    from tpulens.runners.stages import StepSkipped, fetch

    try:
        result = fetch.run({"registry": "pypi", "package": "mediapipe", "version": "0.10.21"},
                           {}, CACHE, SimpleNamespace(cache_dir=CACHE))
    except StepSkipped as why:
        print(f"(mediapipe model skipped: {why})", file=sys.stderr)
        return None
    with zipfile.ZipFile(result.outputs["archive"]) as wheel:
        wheel.extract(MEDIAPIPE_MODEL, CACHE / "bench")
    return target


def models() -> list[Path]:
    """The largest corpus models by op count, plus the MediaPipe model."""
    corpus = sorted(CORPUS.rglob("*.tflite")) if CORPUS.is_dir() else []
    cpu = [p for p in corpus if not p.name.endswith("_edgetpu.tflite")]
    largest = sorted(cpu, key=lambda p: (len(read_model(p).operators), p.stat().st_size))[-3:]
    extra = mediapipe_model()
    return largest + ([extra] if extra else [])


def in_process(path: Path, repeat: int = 20) -> dict:
    """Parse + analyze (what-ifs and their estimates included) in this process as `tpulens
    analyze` does it (the collector paused), best of `repeat`, with where the time goes:
    parsing, the analysis shown, and its what-ifs."""
    options = make_options()
    best = {"all": float("inf"), "parse": float("inf"), "shown": float("inf")}
    for _ in range(repeat):
        with collector_paused():  # as tpulens analyzes one model
            start = time.perf_counter()
            model = read_model(path)
            parsed = time.perf_counter()
            analyze_model(model, options)
            best["all"] = min(best["all"], time.perf_counter() - start)
        best["parse"] = min(best["parse"], parsed - start)
        with collector_paused():
            model = read_model(path)
            start = time.perf_counter()
            analyze_model(model, options, what_if=False)
            best["shown"] = min(best["shown"], time.perf_counter() - start)
    ops = len(model.operators)
    return {"model": path.name, "ops": ops, "MB": round(path.stat().st_size / 2**20, 1),
            "parse+analyze ms": round(best["all"] * 1000, 2),
            "us/op": round(best["all"] * 1e6 / max(ops, 1), 1),
            "parse ms": round(best["parse"] * 1000, 2),
            "analysis ms": round(best["shown"] * 1000, 2),
            "what-ifs ms": round((best["all"] - best["parse"] - best["shown"]) * 1000, 2)}


# Peak RSS is read with wait4 in a small launcher process: Linux keeps a child's pre-exec
# memory in ru_maxrss, so a child forked straight from this (large) process would inherit it.
LAUNCHER = ("import os, sys, time; t = time.perf_counter(); "
            "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ); "
            "_, status, usage = os.wait4(pid, 0); "
            "print(time.perf_counter() - t, usage.ru_maxrss, status)")


def process(command: list[str], repeat: int = 3) -> tuple[float, int]:
    """Best wall time (s) and peak RSS (MB) of a whole process."""
    best_time, peak = float("inf"), 0
    # Bytecode is cached as a pip install leaves it (TensorFlow's was compiled at install): with
    # PYTHONDONTWRITEBYTECODE set, every run would compile tpulens' sources again.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *command], env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        seconds, rss_kb, status = float(out[-3]), int(out[-2]), int(out[-1])
        if status:
            raise RuntimeError(f"{command[:3]} failed with status {status}")
        best_time, peak = min(best_time, seconds), max(peak, rss_kb // 1024)
    return best_time, peak


def versus_tensorflow(path: Path) -> dict:
    """`tpulens analyze --json` (best of 5) against TensorFlow's analyzer (best of 3)."""
    ours_s, ours_mb = process(
        [str(ROOT / ".venv" / "bin" / "tpulens"), "analyze", "--json", str(path)], repeat=5)
    tf_s, tf_mb = process([sys.executable, "-c", TF_ANALYZER, str(path)], repeat=3)
    return {"model": path.name, "tpulens s": round(ours_s, 3), "tpulens MB": ours_mb,
            "tf.lite Analyzer s": round(tf_s, 2), "tf.lite Analyzer MB": tf_mb,
            "faster x": round(tf_s / ours_s, 1), "target x": 30,
            "smaller x": round(tf_mb / ours_mb, 1)}


def startup() -> list[dict]:
    """Wall time of `tpulens analyze` on the smallest corpus model: start-up cost."""
    corpus = sorted(CORPUS.rglob("*.tflite")) if CORPUS.is_dir() else []
    if not corpus:
        return []
    tiny = min(corpus, key=lambda p: p.stat().st_size)
    seconds, rss = process([str(ROOT / ".venv" / "bin" / "tpulens"), "analyze", str(tiny)], 5)
    return [{"model": tiny.name, "bytes": tiny.stat().st_size, "wall s": round(seconds, 3),
             "peak MB": rss, "target s": 0.5}]


def run() -> dict[str, list[dict]]:
    paths = models()
    return {
        "tpulens analyze start-up (best of 5)": startup(),
        "Analyzer in-process (best of 20)": [in_process(p) for p in paths],
        "Whole process: tpulens analyze --json vs tf.lite.experimental.Analyzer": [
            versus_tensorflow(p) for p in paths],
    }
