"""Mutation fuzzing of the model reader, the analyzer, the log parser, and of results stores
through `tpulens diff` and the report (`make fuzz`).

The mutations follow what broke tpulens when it was attacked (../shared/redteam): for models,
flipped bytes, cuts, offsets rewired to other tables (one op table behind many entries),
spliced chunks and damaged Edge TPU packages; for logs, cuts, numbers of thousands of digits
or in other scripts, sizes that overflow a float, floods of one line, glued lines, pasted
prompts, quotes, ANSI codes and cut statuses; for results stores, hostile values in records,
run files and analyses (integers of 400 digits, lone surrogates, deep nesting, paths out of
results/, wrong types, floods of metrics) and hostile files (FIFOs, links to /dev/zero or out of
the store, folders named like records, names too long for the file system). Seeds are the
corpus's models and logs and the committed results/ records with their analyses.

A run passes when the input is analysed or refused with InputError; any other exception is a
crash (a traceback for the user), and a run over the time limit is a hang. Run i of a campaign
always gets the same mutation (seeded by i), so a crash is replayed with --only i, or from the
file --keep wrote with --replay FILE. Each store is checked in a child forked from a process
that checked one store already (imports, templates and caches paid once), its memory capped.

    python -m bench.fuzz --models 100000 --logs 50000 --stores 20000 [--keep DIR]
    python -m bench.fuzz --replay DIR/stores_123.json
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib.metadata
import io
import json
import multiprocessing
import os
import random
import re
import resource
import select
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tpulens.analyzer.analyze import make_options
from tpulens.analyzer.batch import analyze_loaded
from tpulens.analyzer.flatbuf import root
from tpulens.analyzer.ground_truth import CORPUS
from tpulens.analyzer.log_report import render_text
from tpulens.analyzer.logs import decode_log_bytes, parse_log
from tpulens.analyzer.model import TFLITE_IDENTIFIER, model_from_bytes
from tpulens.cli import main as cli
from tpulens.errors import InputError
from tpulens.history.settings import Settings
from tpulens.report.diagnostics import model_page
from tpulens.report.experiments import experiments_of
from tpulens.report.files import DEFAULT_MODEL_FILES
from tpulens.report.load import load_results
from tpulens.report.site import build_site
from tpulens.report.timeline import timeline_of

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "results"
SUITE = REPO / "benchmarks.toml"
MAX_SEED_BYTES = 600_000  # larger models mostly mutate weights, which nothing reads
HANG_SECONDS = 10


# ---- seeds -------------------------------------------------------------------------------

@dataclass
class ModelSeed:
    """A model's bytes and where its vectors of table offsets are (the rewiring targets)."""

    name: str
    data: bytes
    vectors: list[tuple[int, int]] = field(default_factory=list)  # (first entry, count)
    tables: list[int] = field(default_factory=list)  # every table those entries point at
    options: list[tuple[int, int]] = field(default_factory=list)  # custom options spans


def _vectors(data: bytes) -> tuple[list, list]:
    model = root(data, TFLITE_IDENTIFIER)
    vectors, tables = [], []

    def add(table, slot):
        start, count = table._vector(slot, 4)
        if count:
            vectors.append((start, count))
            items = list(table.tables(slot))
            tables.extend(t.pos for t in items)
            return items
        return []

    add(model, 6)
    add(model, 12)
    for subgraph in add(model, 8):
        add(subgraph, 4)
        add(subgraph, 10)
    return vectors, tables


def model_seeds(corpus: Path = CORPUS) -> list[ModelSeed]:
    seeds = []
    for path in sorted(corpus.rglob("*.tflite")):
        if path.stat().st_size > MAX_SEED_BYTES:
            continue
        data = path.read_bytes()
        model = model_from_bytes(data, path.name)
        vectors, tables = _vectors(data)
        options = [op.custom_options for op in model.operators if op.custom_options[1]]
        seeds.append(ModelSeed(path.name, data, vectors, tables, options))
    return seeds


def log_seeds(corpus: Path = CORPUS) -> list[str]:
    return [p.read_text(errors="replace") for p in sorted((corpus / "logs").glob("*.log"))]


# ---- model mutations ---------------------------------------------------------------------

_INTERESTING_U32 = (0, 1, 4, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def flip_bytes(rng: random.Random, seed: ModelSeed, buf: bytearray) -> bytearray:
    for _ in range(rng.randint(1, 8)):
        buf[rng.randrange(len(buf))] = rng.randrange(256)
    return buf


def cut(rng: random.Random, seed: ModelSeed, buf: bytearray) -> bytearray:
    return buf[:rng.randrange(8, len(buf))]


def odd_u32(rng: random.Random, seed: ModelSeed, buf: bytearray) -> bytearray:
    """An offset, length or index replaced by a boundary value or another position."""
    pos = rng.randrange(0, len(buf) - 4) & ~3
    value = rng.choice((*_INTERESTING_U32, len(buf), rng.randrange(len(buf))))
    struct.pack_into("<I", buf, pos, value)
    return buf


def share_table(rng: random.Random, seed: ModelSeed, buf: bytearray) -> bytearray:
    """Later entries of a vector pointing at its first entry's table (the red team's
    shared_ops_*.tflite), or at a table of another kind."""
    vectors = [(start, count) for start, count in seed.vectors
               if count > 1 and start + 4 * count <= len(buf)]
    if not vectors:  # none with two entries, or an earlier mutation cut them off
        return odd_u32(rng, seed, buf)
    start, count = rng.choice(vectors)
    target = (rng.choice(seed.tables) if rng.random() < 0.3 else
              start + struct.unpack_from("<I", buf, start)[0])
    for _ in range(rng.randint(1, count - 1)):
        entry = start + 4 * rng.randrange(1, count)
        struct.pack_into("<I", buf, entry, (target - entry) & 0xFFFFFFFF)
    return buf


def splice(rng: random.Random, seed: ModelSeed, buf: bytearray) -> bytearray:
    """A chunk of the file copied over another place (or inserted there)."""
    size = rng.randint(1, 64)
    src = rng.randrange(len(buf))
    dst = rng.randrange(len(buf))
    chunk = buf[src:src + size]
    if rng.random() < 0.5:
        buf[dst:dst + len(chunk)] = chunk
    else:
        buf[dst:dst] = chunk
    return buf


def damage_package(rng: random.Random, seed: ModelSeed, buf: bytearray) -> bytearray:
    """Bytes flipped inside an Edge TPU custom op's options (FlexBuffer and DWN1 package)."""
    spans = [(offset, length) for offset, length in seed.options if offset + length <= len(buf)]
    if not spans:
        return flip_bytes(rng, seed, buf)
    offset, length = rng.choice(spans)
    for _ in range(rng.randint(1, 6)):
        # Most of a package is parameters: aim at its two ends, where the structure is.
        at = rng.choice((rng.randrange(length), rng.randrange(min(length, 256)),
                         length - 1 - rng.randrange(min(length, 256))))
        buf[offset + at] = rng.randrange(256)
    return buf


MODEL_MUTATIONS = (flip_bytes, cut, odd_u32, share_table, splice, damage_package)


def mutate_model(rng: random.Random, seed: ModelSeed) -> bytes:
    buf = bytearray(seed.data)
    for _ in range(rng.randint(1, 3)):
        if len(buf) < 16:
            break
        buf = rng.choice(MODEL_MUTATIONS)(rng, seed, buf)
    return bytes(buf)


# ---- log mutations -----------------------------------------------------------------------

_BAD_NUMBERS = ("9" * 4301, "²", "٣", "1e400", "9" * 400 + ".5", "-1", "0x10", "NaN", "", "1.")
_PROMPTS = ("$ ", "user@host:~/m$ ", "(venv) PS C:\\m> ", "!", "# ", ">>> ")
_NOISE = ("\x1b[31m", "\t", "> ", "| ", "```", "\u200b", "\ufffd", "…", "...")


def cut_text(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    return text[:i] if rng.random() < 0.7 else text[rng.randrange(i + 1):i]


def bad_number(rng: random.Random, text: str) -> str:
    """A number of the text replaced by one that is not: 4,301 digits, '²', 1e400…"""
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if not digits:
        return text + f"\nTotal number of operations: {rng.choice(_BAD_NUMBERS)}\n"
    i = rng.choice(digits)
    j = i
    while j < len(text) and (text[j].isdigit() or text[j] == "."):
        j += 1
    return text[:i] + rng.choice(_BAD_NUMBERS) + text[j:]


def flood(rng: random.Random, text: str) -> str:
    """One line repeated, or many lines that differ only by a counter."""
    lines = text.splitlines() or [""]
    line = rng.choice(lines)
    times = rng.choice((50, 500, 3000))
    if rng.random() < 0.5:
        return text + "\n" + "\n".join(f"{line} {i}" for i in range(times))
    return text + "\n" + "\n".join([line] * times)


def glue(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    if len(lines) < 2:
        return text
    i = rng.randrange(len(lines) - 1)
    return "\n".join(lines[:i] + [lines[i] + lines[i + 1]] + lines[i + 2:])


def noise(rng: random.Random, text: str) -> str:
    """Paste damage: quotes, ANSI codes, tabs, odd characters, a prompt before a line."""
    lines = text.splitlines() or [""]
    for _ in range(rng.randint(1, 5)):
        i = rng.randrange(len(lines))
        extra = rng.choice(_NOISE + _PROMPTS)
        lines[i] = extra + lines[i] if rng.random() < 0.6 else lines[i] + extra
    return "\n".join(lines)


def shuffle(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    rng.shuffle(lines)
    return "\n".join(lines)


def cut_status(rng: random.Random, text: str) -> str:
    """A status column cut mid-word or ending in '...'."""
    lines = text.splitlines()
    rows = [i for i, line in enumerate(lines) if "  " in line.strip()]
    if not rows:
        return text
    i = rng.choice(rows)
    lines[i] = lines[i][:rng.randrange(len(lines[i]) + 1)] + rng.choice(("", "...", "…"))
    return "\n".join(lines)


def command(rng: random.Random, text: str) -> str:
    flags = rng.sample(["-s", "-a", "-m 13", "-m ²", "-i a,b", "-d", "-k 9" * 3, "--x=1",
                        "-o", "'unclosed", "-n 99999999999999999999"], rng.randint(0, 4))
    return f"{rng.choice(_PROMPTS)}edgetpu_compiler {' '.join(flags)} m.tflite\n{text}"


def random_text(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    junk = "".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0x3000))))
                   for _ in range(rng.randint(1, 40)))
    return text[:i] + junk + text[i:]


LOG_MUTATIONS = (cut_text, bad_number, flood, glue, noise, shuffle, cut_status, command,
                 random_text)


def mutate_log(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        text = rng.choice(LOG_MUTATIONS)(rng, text)
    return text


# ---- running -----------------------------------------------------------------------------

class Hang(Exception):
    pass


# ---- results stores ----------------------------------------------------------------------

@dataclass
class StoreSeed:
    """A committed record and the analysis it names."""

    name: str
    record: dict
    analysis: dict


def store_seeds(results: Path = RESULTS) -> list[StoreSeed]:
    seeds = []
    for path in sorted(results.glob("*/*.json")):
        if path.parent.name in ("analysis", "history", "models", "examples"):
            continue
        record = json.loads(path.read_text())
        named = record.get("artifacts", {}).get("analysis")
        if named and (results / named).is_file():
            seeds.append(StoreSeed(path.stem, record, json.loads((results / named).read_text())))
    return seeds


_BIG = "@@big@@"  # placeholders for what json.dumps cannot write
_NAN = "@@nan@@"
_DEEP = "@@deep@@"  # deeper than json.dumps may recurse
_RAW = {f'"{_BIG}"': "1" + "0" * 400, f'"{_NAN}"': "NaN", f'"{_DEEP}"': "[" * 5000 + "]" * 5000}


def _dumps(value) -> bytes:
    text = json.dumps(value, ensure_ascii=True)
    for placeholder, raw in _RAW.items():
        text = text.replace(placeholder, raw)
    return text.encode()


def hostile_value(rng: random.Random):
    """One value of a kind that broke a reader of records or analyses."""
    choice = rng.randrange(16)
    if choice == 0:
        return _BIG
    if choice == 1:
        return _NAN
    if choice == 2:
        return rng.choice(["\ud800", "x\udc00y", "\udfff" * 3])
    if choice == 3:
        return rng.choice(["/dev/zero", "../../../../etc/passwd", "/" + "a" * 300,
                           "a" * 5000, "../" * 40 + "x", "", ".", "..", "a/b", "x\x00y"])
    if choice == 4:
        depth = rng.choice((70, 200, 0))
        if not depth:
            return _DEEP
        nested: object = 1
        for _ in range(depth):
            nested = [nested]
        return nested
    if choice == 5:
        return {f"m{i}": float(i) for i in range(rng.choice((1000, 10_000)))}
    if choice == 6:
        return [rng.random() for _ in range(rng.choice((10, 5000)))]
    if choice == 7:
        return rng.choice([10**30, -(2**63), 2**64, 1e308, -1e308, 0, -1])
    if choice == 8:
        return rng.choice([None, True, False])
    if choice == 9:
        return rng.choice([[], {}, ["a"], [1, "2", None], {"": None}])
    if choice == 10:
        return rng.choice(["<!--", "<img src=x onerror=alert(1)>", "x|y\r\nz", "@someone",
                           "[l](javascript:alert(1))", "\u202e", "\x1b[31m"])
    if choice == 11:
        return rng.choice(["ok", "failed", "skipped", "partial"])
    if choice == 12:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(1, 40)))
    if choice == 13:
        return rng.randrange(-10**6, 10**6)
    if choice == 14:
        return rng.uniform(-1e6, 1e6)
    return rng.choice(["20990101T000000Z-x", "00000000T000000Z-nogit", "x/../../y"])


def _poke(rng: random.Random, data: dict, keys: list[str]) -> None:
    """Replace or add one field (or one field one level down) with a hostile value."""
    key = rng.choice(keys)
    target = data.get(key)
    if isinstance(target, dict) and target and rng.random() < 0.5:
        target[rng.choice(list(target))] = hostile_value(rng)
    elif isinstance(target, list) and target and rng.random() < 0.5:
        index = rng.randrange(len(target))
        if isinstance(target[index], dict) and target[index] and rng.random() < 0.7:
            op = target[index]
            op[rng.choice(list(op))] = hostile_value(rng)
        else:
            target[index] = hostile_value(rng)
    else:
        data[key] = hostile_value(rng)


_FILE_ATTACKS = ("fifo_record", "zero_record", "link_out", "dir_record", "long_name",
                 "fifo_run", "zero_analysis", "history_link", "cut_record", "flip_record",
                 "many_runs", "many_ops")


def mutate_store(rng: random.Random, seed: StoreSeed) -> dict:
    """A head store: the seed's record and analysis, mutated, with a run folder, and maybe a
    hostile file. Returned as a plan `build_store` carries out (so it can be kept as JSON)."""
    record = json.loads(json.dumps(seed.record))
    analysis = json.loads(json.dumps(seed.analysis))
    run_file: dict = {"git_commit": "abc", "started": "2099-01-01T00:00:00Z"}
    for _ in range(rng.randrange(1, 4)):
        which = rng.random()
        if which < 0.5:
            _poke(rng, record, [*record, "run", "samples", "metric_info"])
        elif which < 0.85:
            _poke(rng, analysis, [*analysis, "model", "source"])
        else:
            _poke(rng, run_file, [*run_file, "git_dirty", "machine", "profile"])
    attack = rng.choice(_FILE_ATTACKS) if rng.random() < 0.4 else None
    return {"seed": seed.name, "record": _dumps(record).decode(), "run": _dumps(run_file).decode(),
            "analysis": _dumps(analysis).decode(), "attack": attack,
            "attack_seed": rng.randrange(1 << 30)}


def build_store(plan: dict, top: Path) -> tuple[Path, Path]:
    """The base store (the seed as committed) and the head store (the plan) under `top`."""
    rng = random.Random(plan["attack_seed"])
    stores = []
    for side in ("base", "head"):
        root = top / side
        experiment = "e"
        (root / experiment).mkdir(parents=True)
        (root / "analysis").mkdir()
        run = root / "history" / "20990101T000000Z-x"
        (run / experiment).mkdir(parents=True)
        record, analysis = plan["record"], plan["analysis"]
        if side == "base":
            record = json.dumps({"experiment": "e", "variant": "v", "status": "ok",
                                 "metrics": {"accuracy": 0.5, "latency_ms_p50": 1.0},
                                 "artifacts": {"analysis": "analysis/a.json"}})
        (root / experiment / "v.json").write_bytes(record.encode("utf-8", "surrogatepass"))
        (run / experiment / "v.json").write_bytes(record.encode("utf-8", "surrogatepass"))
        (run / "run.json").write_bytes(plan["run"].encode("utf-8", "surrogatepass"))
        (root / "analysis" / "a.json").write_bytes(analysis.encode("utf-8", "surrogatepass"))
        stores.append(root)
    _attack(plan["attack"], stores[1], top, rng)
    return stores[0], stores[1]


def _attack(attack: str | None, root: Path, top: Path, rng: random.Random) -> None:
    outside = top / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text('{"experiment": "e", "variant": "secret"}')
    run = root / "history" / "20990101T000000Z-x"
    if attack == "fifo_record":
        os.mkfifo(root / "e" / "fifo.json")
    elif attack == "zero_record":
        (root / "e" / "zero.json").symlink_to("/dev/zero")
    elif attack == "link_out":
        (root / "e" / "out.json").symlink_to(outside / "secret.json")
    elif attack == "dir_record":
        (root / "e" / "x.json").mkdir()
    elif attack == "long_name":
        (root / "e" / ("a" * 250 + ".json")).write_text('{"variant": "' + "b" * 300 + '"}')
    elif attack == "fifo_run":
        (run / "run.json").unlink()
        os.mkfifo(run / "run.json")
    elif attack == "zero_analysis":
        (root / "analysis" / "a.json").unlink()
        (root / "analysis" / "a.json").symlink_to("/dev/zero")
    elif attack == "history_link":
        (root / "history" / "00000000T000000Z-old").symlink_to(outside)
    elif attack in ("cut_record", "flip_record"):
        path = root / "e" / "v.json"
        data = bytearray(path.read_bytes())
        if attack == "cut_record":
            del data[rng.randrange(len(data) + 1):]
        else:
            for _ in range(rng.randrange(1, 6)):
                if data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
    elif attack == "many_runs":
        for i in range(rng.choice((50, 300))):
            folder = root / "history" / f"2098{i:04d}T000000Z-r" / "e"
            folder.mkdir(parents=True)
            (folder / "v.json").write_text(json.dumps(
                {"experiment": "e", "variant": "v", "metrics": {"accuracy": rng.random()},
                 "metric_info": {"accuracy": {"better": "higher"}}}))
    elif attack == "many_ops":
        path = root / "analysis" / "a.json"
        try:
            data = json.loads(path.read_text())
        except (ValueError, RecursionError):  # already made unreadable by a value
            return
        if isinstance(data, dict) and isinstance(data.get("ops"), list) and data["ops"]:
            data["ops"] = [dict(data["ops"][0], index=i, outputs=[f"t{i}"])
                           if isinstance(data["ops"][0], dict) else i
                           for i in range(rng.choice((500, 2000)))]
            path.write_text(json.dumps(data))


STORE_MEMORY = 1536 * 1024 * 1024  # address space one store's check may add: /dev/zero read whole
STORE_FILE_BYTES = 256 * 1024 * 1024  # largest file a check may write (its scratch may be RAM)


def _scratch() -> str | None:
    """Where stores are built: tmpfs when there is one, since a disk's metadata writes (a
    store of 300 runs, removed again) cost ten times the check itself; else the default."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _mapped_bytes() -> int:
    """The address space this process maps already (a test worker that imported TensorFlow
    maps gigabytes it never touches): the cap is counted on top of it."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


class StoreCrash(Exception):
    """A store's check failed in its child process: the message says where."""


def check_store(plan: dict, full_site: bool = False, store_memory: int = STORE_MEMORY,
                hang_seconds: float = HANG_SECONDS) -> str | None:
    """Check one store in a forked child, its address space capped, so a reader that fills
    the memory (a record linked to /dev/zero) is a crash counted, not the machine's OOM
    killer, and a blocked one (a FIFO) is a hang: the child is killed when its time is up."""
    top = Path(tempfile.mkdtemp(prefix="tpulens-fuzz-", dir=_scratch()))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        os.close(read)
        try:
            cap = _mapped_bytes() + store_memory
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            resource.setrlimit(resource.RLIMIT_FSIZE, (STORE_FILE_BYTES, STORE_FILE_BYTES))
            tempfile.tempdir = str(top)  # diff's own scratch folder, removed with the store
            refused = _check_store(plan, top, full_site)
            result = "ok" if refused is None else f"refused: {refused}"
        except BaseException as err:  # noqa: BLE001 - reported to the parent as a crash
            where = traceback.extract_tb(err.__traceback__)[-1]
            result = f"{type(err).__name__} at {Path(where.filename).name}:{where.lineno}: {err}"
        os.write(write, result[:300].encode("utf-8", "replace"))
        os._exit(0)
    os.close(write)
    try:
        result = _answer(read, time.monotonic() + hang_seconds)
    finally:
        os.kill(pid, signal.SIGKILL)  # harmless once it has exited: it is reaped just below
        os.waitpid(pid, 0)
        os.close(read)
        shutil.rmtree(top, ignore_errors=True)
    if result is None:
        raise Hang
    if result == "ok":
        return None
    if result.startswith("refused: "):
        return result.removeprefix("refused: ")
    raise StoreCrash(result or "the check's process died without a word")


def _answer(pipe: int, deadline: float) -> str | None:
    """What the child wrote before it closed the pipe, or None when the deadline came first."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([pipe], [], [], left)[0]:
            return None
        chunk = os.read(pipe, 4096)
        if not chunk:
            return b"".join(chunks).decode(errors="replace")
        chunks.append(chunk)


def _check_store(plan: dict, top: Path, full_site: bool) -> str | None:
    """`tpulens diff` in every format and the report's reading of the head store (with a whole
    site build when `full_site`); diff's refusal when it refused with one line (exit 2)."""
    base, head = build_store(plan, top)
    suite = top / "benchmarks.toml"
    suite.write_text(suite_settings())
    refused = None
    for fmt in ("text", "markdown", "json"):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli(["diff", str(base), str(head), "--format", fmt, "--config", str(suite)])
        if code not in (0, 1, 2):
            raise RuntimeError(f"diff exit {code}")
        (out.getvalue() + err.getvalue()).encode("utf-8")  # printable as the user's output
        if code == 2:
            refused = refusal(err.getvalue().replace(str(top), "") or "diff: exit 2")
    results = load_results(head)
    experiments_of(results)
    for analysis in results.analyses:
        model_page(analysis, DEFAULT_MODEL_FILES)
    timeline_of(results, Settings())
    if full_site:
        build_site(head, top / "site", plotly_js="")
    return refused


def _alarm(signum, frame):
    raise Hang


def refusal(message: str) -> str:
    """A refusal's kind: its first line with the numbers (offsets, sizes, indices) left out."""
    return re.sub(r"\d+", "N", (message.strip().splitlines() or [""])[0])[:100]


def check_model(data: bytes) -> str | None:
    """Read, analyse and serialise a model; the refusal when refused with InputError (correct)."""
    try:
        model = model_from_bytes(data, "fuzz.tflite")
        json.dumps(analyze_loaded(model, make_options()))
    except InputError as err:
        return refusal(str(err))
    return None


def check_log(text: str) -> str | None:
    """Parse, serialise and render a log; the refusal when refused with InputError (correct)."""
    try:
        log = parse_log(decode_log_bytes(text.encode(), "fuzz.log"))
    except InputError as err:
        return refusal(str(err))
    json.dumps(log.to_json())
    render_text(log)
    return None


@dataclass
class Counts:
    runs: int = 0
    refused: int = 0  # InputError: one line for the user, exit 2
    crashes: int = 0
    hangs: int = 0
    seconds: float = 0.0
    first_crashes: list = field(default_factory=list)  # (run, one-line traceback summary)
    kinds: Counter = field(default_factory=Counter)
    refusals: Counter = field(default_factory=Counter)  # what the one-line refusals said

    def add(self, other: Counts) -> None:
        self.runs += other.runs
        self.refused += other.refused
        self.crashes += other.crashes
        self.hangs += other.hangs
        self.seconds = max(self.seconds, other.seconds)
        self.first_crashes = (self.first_crashes + other.first_crashes)[:20]
        self.kinds.update(other.kinds)
        self.refusals.update(other.refusals)


FULL_SITE_EVERY = 25  # a whole site build (slower) for one store in this many
REFUSALS_SHOWN = 8  # the most common refusals in a campaign's summary: what the mutations reach


def _input(kind: str, run: int, seeds: list, campaign_seed: int):
    rng = random.Random(campaign_seed * 1_000_003 + run)
    seed = rng.choice(seeds)
    mutate = {"models": mutate_model, "logs": mutate_log, "stores": mutate_store}[kind]
    return mutate(rng, seed)


@functools.cache
def suite_settings(suite: Path = SUITE) -> str:
    """The suite file's [history] and [diff] tables: `diff` judges each store by the suite's
    thresholds without parsing the whole suite (most of a store's check) three times a store."""
    kept, keep = [], False
    for line in (suite.read_text().splitlines() if suite.is_file() else []):
        if line.startswith("["):
            keep = line.strip("[] ").startswith(("history", "diff"))
        if keep:
            kept.append(line)
    return "\n".join(kept) + "\n"


def warm_up(seed: StoreSeed) -> None:
    """Check the seed's store once in this process, whole site included, then freeze what it
    loaded: every forked check inherits the imports, templates and caches instead of paying
    for them again, and the collector in a child leaves the inherited pages alone. The
    installed distributions cannot change during a campaign, and reading their metadata again
    (every `tpulens diff` does, to check its extra is installed) costs more than its check."""
    for name in ("version", "requires"):
        read = getattr(importlib.metadata, name)
        if not hasattr(read, "cache_info"):
            setattr(importlib.metadata, name, functools.cache(read))
    top = Path(tempfile.mkdtemp(prefix="tpulens-fuzz-", dir=_scratch()))
    plan = {"seed": seed.name, "record": json.dumps(seed.record), "analysis":
            json.dumps(seed.analysis), "run": json.dumps({"git_commit": "abc"}),
            "attack": None, "attack_seed": 0}
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            _check_store(plan, top, full_site=True)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    gc.collect()
    gc.freeze()


def _full_site(run: int | str) -> bool:
    """A whole site for one generated store in FULL_SITE_EVERY, and for every kept one."""
    return not isinstance(run, int) or run % FULL_SITE_EVERY == 0


def _checker(kind: str, seeds: list, store_memory: int, hang_seconds: float):
    if kind == "stores":
        warm_up(seeds[0])
        return lambda plan, run: check_store(plan, _full_site(run), store_memory, hang_seconds)
    check = check_model if kind == "models" else check_log
    return lambda data, run: check(data)


def run_campaign(kind: str, runs: range, seeds: list, campaign_seed: int = 0,
                 **options) -> Counts:
    """Run mutations `runs` of one kind ("models", "logs" or "stores") and count crashes and
    hangs."""
    inputs = ((run, _input(kind, run, seeds, campaign_seed)) for run in runs)
    return run_inputs(kind, inputs, seeds, **options)


def run_inputs(kind: str, inputs: Iterable[tuple[int | str, object]], seeds: list,
               keep: Path | None = None, hang_seconds: float = HANG_SECONDS,
               store_memory: int = STORE_MEMORY, progress: int = 0) -> Counts:
    """Check (run, input) pairs of one kind and count crashes and hangs, printing the counts
    so far every `progress` runs (never when 0)."""
    check = _checker(kind, seeds, store_memory, hang_seconds)
    alarm = 0 if kind == "stores" else hang_seconds  # a store's check keeps its own time
    counts = Counts()
    previous = signal.signal(signal.SIGALRM, _alarm)
    start = time.monotonic()
    try:
        for run, data in inputs:
            counts.runs += 1
            try:
                signal.setitimer(signal.ITIMER_REAL, alarm)
                refused = check(data, run)
                if refused is not None:
                    counts.refused += 1
                    counts.refusals[refused] += 1
            except Hang:
                counts.hangs += 1
                if len(counts.first_crashes) < 20:
                    counts.first_crashes.append((run, f"hang (over {hang_seconds:g} s)"))
                _keep(keep, kind, run, data)
            except Exception as err:  # a crash is whatever is not a one-line refusal
                counts.crashes += 1
                where = traceback.extract_tb(err.__traceback__)[-1]
                summary = f"{type(err).__name__} at {Path(where.filename).name}:{where.lineno}"
                text = f"{summary}: {err}"
                if isinstance(err, StoreCrash):  # the child's summary leads its message
                    summary, text = str(err).split(": ")[0], str(err)
                counts.kinds[summary] += 1
                if len(counts.first_crashes) < 20:
                    counts.first_crashes.append((run, text[:200]))
                _keep(keep, kind, run, data)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if progress and counts.runs % progress == 0:
                print(f"  {kind}: {counts.runs} runs, {counts.crashes} crashes, "
                      f"{counts.hangs} hangs, {time.monotonic() - start:.0f} s", flush=True)
    finally:
        signal.signal(signal.SIGALRM, previous)
    counts.seconds = time.monotonic() - start
    return counts


SUFFIXES = {"models": ".tflite", "logs": ".log", "stores": ".json"}  # of kept inputs


def _keep(folder: Path | None, kind: str, run: int | str, data) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    suffix = SUFFIXES[kind]
    if isinstance(data, dict):
        data = json.dumps(data)
    payload = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    name = Path(str(run)).stem.removeprefix(f"{kind}_")  # a replayed input keeps its name
    (folder / f"{kind}_{name}{suffix}").write_bytes(payload)


def kept_inputs(paths: list[Path]) -> dict[str, list[tuple[str, object]]]:
    """Inputs that --keep wrote (or regression cases in its format), by kind: their suffix
    says which."""
    kinds = {suffix: kind for kind, suffix in SUFFIXES.items()}
    inputs: dict[str, list] = {kind: [] for kind in SUFFIXES}
    for path in paths:
        kind = kinds.get(path.suffix)
        if kind is None:
            raise SystemExit(f"fuzz: {path}: not a kept input (.tflite, .log or .json)")
        data = path.read_bytes()
        if kind == "logs":
            data = data.decode("utf-8", "surrogatepass")
        elif kind == "stores":
            data = json.loads(data)
        inputs[kind].append((path.name, data))
    return inputs


def _worker(job: tuple) -> Counts:
    """Runs `runs` of a kind's campaign, or the kept inputs `runs` when it is a list."""
    kind, runs, args = job
    seeds = {"models": model_seeds, "logs": log_seeds,
             "stores": lambda: store_seeds(args.results)}[kind]()
    if not seeds:
        raise SystemExit(f"fuzz: no seeds for the {kind}")
    options = {"keep": args.keep, "hang_seconds": args.hang_seconds,
               "store_memory": args.store_memory_mb * 1024 * 1024, "progress": args.progress}
    if isinstance(runs, list):
        return run_inputs(kind, runs, seeds, **options)
    return run_campaign(kind, runs, seeds, args.seed, **options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=100_000, help="mutated models to run")
    parser.add_argument("--logs", type=int, default=50_000, help="mutated logs to run")
    parser.add_argument("--stores", type=int, default=20_000,
                        help="mutated results stores to run through diff and the report")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="campaign seed")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--only", type=int, help="replay this one run (of each kind)")
    which.add_argument("--replay", type=Path, nargs="+", metavar="FILE",
                       help="check these kept inputs instead of mutations")
    parser.add_argument("--keep", type=Path, help="write crashing and hanging inputs here")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="the results store whose records and analyses seed the stores")
    parser.add_argument("--hang-seconds", type=float, default=HANG_SECONDS,
                        help="a run over this long is a hang")
    parser.add_argument("--store-memory-mb", type=int, default=STORE_MEMORY // (1024 * 1024),
                        help="address space one store's check may add (over it: a crash)")
    parser.add_argument("--progress", type=int, default=1000,
                        help="print the counts so far every this many runs (0: never)")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"fuzz: no seeds: corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    failed = 0
    kept = kept_inputs(args.replay) if args.replay else {}
    for kind, total in (("models", args.models), ("logs", args.logs),
                        ("stores", args.stores)):
        if args.replay:
            total = len(kept[kind])
        if not total:
            continue
        span = range(args.only, args.only + 1) if args.only is not None else range(total)
        step = -(-len(span) // args.workers)
        jobs = [(kind, kept[kind][i:i + step] if args.replay else span[i:i + step], args)
                for i in range(0, len(span), step)]
        counts = Counts()
        start = time.monotonic()
        if args.workers > 1:
            with multiprocessing.Pool(args.workers) as pool:
                for part in pool.imap_unordered(_worker, jobs):
                    counts.add(part)
        else:
            counts.add(_worker(jobs[0]))
        print(f"{kind}: {counts.runs} runs ({counts.refused} refused with one line), "
              f"{counts.crashes} crashes (tracebacks), "
              f"{counts.hangs} hangs (over {args.hang_seconds:g} s), "
              f"{time.monotonic() - start:.0f} s", flush=True)
        for text, n in counts.refusals.most_common(REFUSALS_SHOWN):
            print(f"  refused {n} x {text}")
        for summary, n in counts.kinds.most_common():
            print(f"  {n} x {summary}")
        for run, text in counts.first_crashes:
            print(f"  run {run}: {text}")
        failed += counts.crashes + counts.hangs
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
