"""Mutation fuzzing of the model reader, the analyzer and the log parser (`make fuzz`).

The mutations follow what broke tpulens when it was attacked (../shared/redteam): for models,
flipped bytes, cuts, offsets rewired to other tables (one op table behind many entries),
spliced chunks and damaged Edge TPU packages; for logs, cuts, numbers of thousands of digits
or in other scripts, sizes that overflow a float, floods of one line, glued lines, pasted
prompts, quotes, ANSI codes and cut statuses. Seeds are the corpus's models and logs.

A run passes when the input is analysed or refused with InputError; any other exception is a
crash (a traceback for the user), and a run over the time limit is a hang. Run i of a campaign
always gets the same mutation (seeded by i), so a crash is replayed with --only i.

    python -m bench.fuzz --models 100000 --logs 50000 [--workers 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import signal
import struct
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tpulens.analyzer.analyze import make_options
from tpulens.analyzer.batch import analyze_loaded
from tpulens.analyzer.flatbuf import root
from tpulens.analyzer.log_report import render_text
from tpulens.analyzer.logs import decode_log_bytes, parse_log
from tpulens.analyzer.model import TFLITE_IDENTIFIER, model_from_bytes
from tpulens.errors import InputError

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
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


def _alarm(signum, frame):
    raise Hang


def check_model(data: bytes) -> bool:
    """Read, analyse and serialise a model; False when refused with InputError (correct)."""
    try:
        model = model_from_bytes(data, "fuzz.tflite")
        json.dumps(analyze_loaded(model, make_options()))
    except InputError:
        return False
    return True


def check_log(text: str) -> bool:
    """Parse, serialise and render a log; False when refused with InputError (correct)."""
    try:
        log = parse_log(decode_log_bytes(text.encode(), "fuzz.log"))
    except InputError:
        return False
    json.dumps(log.to_json())
    render_text(log)
    return True


@dataclass
class Counts:
    runs: int = 0
    refused: int = 0  # InputError: one line for the user, exit 2
    crashes: int = 0
    hangs: int = 0
    seconds: float = 0.0
    first_crashes: list = field(default_factory=list)  # (run, one-line traceback summary)
    kinds: Counter = field(default_factory=Counter)

    def add(self, other: Counts) -> None:
        self.runs += other.runs
        self.refused += other.refused
        self.crashes += other.crashes
        self.hangs += other.hangs
        self.seconds = max(self.seconds, other.seconds)
        self.first_crashes = (self.first_crashes + other.first_crashes)[:20]
        self.kinds.update(other.kinds)


def _input(kind: str, run: int, seeds: list, campaign_seed: int):
    rng = random.Random(campaign_seed * 1_000_003 + run)
    seed = rng.choice(seeds)
    return mutate_model(rng, seed) if kind == "models" else mutate_log(rng, seed)


def run_campaign(kind: str, runs: range, seeds: list, campaign_seed: int = 0,
                 keep: Path | None = None, hang_seconds: float = HANG_SECONDS) -> Counts:
    """Run mutations `runs` of one kind ("models" or "logs") and count crashes and hangs."""
    check = check_model if kind == "models" else check_log
    counts = Counts()
    previous = signal.signal(signal.SIGALRM, _alarm)
    start = time.monotonic()
    try:
        for run in runs:
            data = _input(kind, run, seeds, campaign_seed)
            counts.runs += 1
            signal.setitimer(signal.ITIMER_REAL, hang_seconds)
            try:
                counts.refused += not check(data)
            except Hang:
                counts.hangs += 1
                _keep(keep, kind, run, data)
            except Exception as err:  # a crash is whatever is not a one-line refusal
                counts.crashes += 1
                where = traceback.extract_tb(err.__traceback__)[-1]
                summary = f"{type(err).__name__} at {Path(where.filename).name}:{where.lineno}"
                counts.kinds[summary] += 1
                if len(counts.first_crashes) < 20:
                    counts.first_crashes.append((run, f"{summary}: {err}"[:200]))
                _keep(keep, kind, run, data)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    counts.seconds = time.monotonic() - start
    return counts


def _keep(folder: Path | None, kind: str, run: int, data) -> None:
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".tflite" if kind == "models" else ".log"
    payload = data if isinstance(data, bytes) else data.encode()
    (folder / f"{kind}_{run}{suffix}").write_bytes(payload)


def _worker(job: tuple) -> Counts:
    kind, runs, campaign_seed, keep = job
    seeds = model_seeds() if kind == "models" else log_seeds()
    return run_campaign(kind, runs, seeds, campaign_seed, keep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=100_000, help="mutated models to run")
    parser.add_argument("--logs", type=int, default=50_000, help="mutated logs to run")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="campaign seed")
    parser.add_argument("--only", type=int, help="replay this one run (of each kind)")
    parser.add_argument("--keep", type=Path, help="write crashing and hanging inputs here")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"fuzz: no seeds: corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    failed = 0
    for kind, total in (("models", args.models), ("logs", args.logs)):
        if not total:
            continue
        span = range(args.only, args.only + 1) if args.only is not None else range(total)
        step = -(-len(span) // args.workers)
        jobs = [(kind, span[i:i + step], args.seed, args.keep)
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
              f"{counts.hangs} hangs (over {HANG_SECONDS} s), "
              f"{time.monotonic() - start:.0f} s", flush=True)
        for summary, n in counts.kinds.most_common():
            print(f"  {n} x {summary}")
        for run, text in counts.first_crashes:
            print(f"  run {run}: {text}")
        failed += counts.crashes + counts.hangs
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
