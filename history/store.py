"""The results store: each variant's latest record, and the records of the runs before it.

A results directory:

    <experiment>/<variant>.json                 the latest record of each variant (the site's)
    analysis/<experiment>-<variant>*.json       its analysis artifacts
    history/<run>/run.json                      one `tpulens run`: commit, dirty flag, machine,
                                                start time, profile
    history/<run>/<experiment>/<variant>.json   the records that run wrote, with their artifacts
    history/<run>/analysis/...                  (a run folder has the top-level layout)
    models/<experiment>-<variant>-<sha>.tflite  the models records name, shared by all runs

A run id begins with the run's UTC start time, so sorting ids sorts runs. A top-level record
names its run in `run`; one written before history existed has no `run` and counts as the run
named by its `created` time and `git_commit`. A top-level record wins over its copy in history:
it is what the site shows, and what a hand-edited copy of a results directory changes.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from tpulens import safefs
from tpulens.errors import InputError

HISTORY = "history"
ANALYSIS = "analysis"
MODELS = "models"
RUN_FILE = "run.json"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
UNKNOWN_TIME = "00000000T000000Z"
# How much of each kind of file of a results store is read at the most: anyone may edit
# results/ (a pull request), so a link to /dev/zero must not fill the memory. Every reader of
# the store (the runners, `tpulens diff`, the site) holds these.
MAX_RECORD_BYTES = 16 * 1024 * 1024  # a record or run.json: real ones are tens of kB
MAX_ANALYSIS_BYTES = 16 * 1024 * 1024  # about 35,000 ops; real models have hundreds
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024  # an artifact copied as it is (a compiler log, a picture)
MAX_MODEL_BYTES = 2 * 1024 ** 3  # a model copy


@dataclass(frozen=True)
class Run:
    """One `tpulens run` that wrote records."""

    id: str
    git_commit: str | None = None
    git_dirty: bool | None = None  # tracked files changed outside results/; None: unknown
    machine: str | None = None  # host name
    started: str = ""  # UTC, TIME_FORMAT
    profile: str | None = None

    @property
    def commit_label(self) -> str:
        if not self.git_commit:
            return "no commit"
        return self.git_commit + ("+dirty" if self.git_dirty else "")

    def to_json(self) -> dict:
        return asdict(self)


def run_id(started: datetime, git_commit: str | None) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{git_commit or 'nogit'}"


def new_run(started: datetime, git_commit: str | None, git_dirty: bool | None,
            machine: str | None, profile: str | None) -> Run:
    return Run(run_id(started, git_commit), git_commit, git_dirty, machine,
               started.strftime(TIME_FORMAT), profile)


def legacy_run(record: dict) -> Run:
    """The run a record written before history existed stands for: its time and commit."""
    commit = _text(record.get("git_commit"))
    created = _text(record.get("created")) or ""
    try:
        started = datetime.strptime(created, TIME_FORMAT)
        return Run(run_id(started, commit), commit, None, None, created,
                   _text(record.get("profile")))
    except ValueError:
        return Run(f"{UNKNOWN_TIME}-{commit or 'nogit'}", commit, None, None, created,
                   _text(record.get("profile")))


def run_dir(results_dir: Path, run: str) -> Path:
    return Path(results_dir) / HISTORY / run


@dataclass(frozen=True)
class Entry:
    """A record as stored: its run, and the folder its artifact paths are relative to."""

    run: Run
    experiment: str
    variant: str
    record: dict
    base: Path
    path: Path
    latest: bool = False  # a top-level record

    @property
    def key(self) -> tuple[str, str]:
        return self.experiment, self.variant

    @property
    def name(self) -> str:
        return f"{self.experiment}/{self.variant}"

    def artifact(self, name: str) -> Path | None:
        value = _dict(self.record.get("artifacts")).get(name)
        return self.base / value if isinstance(value, str) and value else None

    def read_artifact(self, name: str, root: safefs.Root, limit: int) -> bytes | None:
        """An artifact's bytes, only from inside `root` (the results store) and without a link
        on the way; None when the record names none. Raises safefs.Unusable."""
        value = _dict(self.record.get("artifacts")).get(name)
        if not isinstance(value, str) or not value:
            return None
        return root.read(value, limit, base=Path(os.path.realpath(self.base)))


@dataclass
class History:
    """Every run and record of a results directory, oldest run first."""

    results_dir: Path
    runs: list[Run]
    entries: list[Entry]
    problems: list[str] = field(default_factory=list)

    @property
    def latest_run(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    def run(self, run: str) -> Run:
        for candidate in self.runs:
            if candidate.id == run:
                return candidate
        raise InputError(f"{self.results_dir}: no run {run!r} in {HISTORY}/")

    def latest(self) -> dict[tuple[str, str], Entry]:
        """The top-level records: each variant's latest result."""
        return {e.key: e for e in self.entries if e.latest}

    def snapshot(self, run: str) -> dict[tuple[str, str], Entry]:
        """Each variant's newest record at or before `run`: the results as that run left them."""
        self.run(run)
        return {e.key: e for e in self.entries if e.run.id <= run}

    def series(self, experiment: str, variant: str) -> list[Entry]:
        """One variant's records, oldest run first."""
        return [e for e in self.entries if e.key == (experiment, variant)]


def load(results_dir: Path) -> History:
    """Read a results directory (with or without history/); unreadable files become problems."""
    results_dir = Path(results_dir)
    try:
        if not results_dir.is_dir():
            raise InputError(f"{results_dir}: " + ("not a directory" if results_dir.exists()
                                                   else "no such directory"))
    except OSError as err:
        raise InputError(f"{results_dir}: unreadable ({err.strerror})") from None
    problems: list[str] = []
    runs: dict[str, Run] = {}
    entries: dict[tuple[str, str, str], Entry] = {}
    root = safefs.Root.of(results_dir)
    if root.is_file(root.path / RUN_FILE):  # a run's folder, compared as a results directory
        own = _read_run(results_dir, RUN_FILE, problems)
        runs[own.id] = own
    for real in root.folders(f"{HISTORY}/*"):  # real folders only: a link is not followed
        folder = results_dir / real.relative_to(root.path)
        run = _read_run(folder, f"{HISTORY}/{folder.name}/{RUN_FILE}", problems)
        runs[run.id] = run
        for entry in _entries(folder, run, results_dir, problems):
            entries[(run.id, *entry.key)] = entry
    for entry in _entries(results_dir, None, results_dir, problems):
        run = runs.setdefault(entry.run.id, entry.run)
        entries[(run.id, *entry.key)] = Entry(run, entry.experiment, entry.variant,
                                              entry.record, entry.base, entry.path, True)
    return History(results_dir, sorted(runs.values(), key=lambda r: r.id),
                   sorted(entries.values(), key=lambda e: (e.run.id, e.key)), problems)


def metric_values(record: dict) -> dict[str, float]:
    """A record's metrics that are finite plain numbers (records may come from other tools)."""
    return {k: float(v) for k, v in _dict(record.get("metrics")).items() if _finite(v)}


def samples(record: dict, name: str) -> list[float]:
    """A record's raw samples of one kind (`latency_ms`), [] when it has none."""
    values = _dict(record.get("samples")).get(name)
    return [float(v) for v in values if _finite(v)] if isinstance(values, list) else []


def _finite(value: object) -> bool:
    """A plain number a float holds (an integer of 400 digits is not one)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _record_paths(folder: Path) -> list[Path]:
    """The records of a folder: regular files reached without a link."""
    root = safefs.Root.of(folder)
    return [folder / p.relative_to(root.path) for p in root.files("*/*.json")
            if p.parent.name not in (ANALYSIS, HISTORY, MODELS)]


def _entries(folder: Path, run: Run | None, results_dir: Path, problems: list) -> list[Entry]:
    """The records of one folder; `run` None: top-level records, each naming its own run."""
    out = []
    for path in _record_paths(folder):
        label = path.relative_to(results_dir).as_posix()
        record = _read_object(path, label, problems)
        if record is None:
            continue
        own = run
        if own is None:
            named = _text(record.get("run"))
            own = Run(named, _text(record.get("git_commit")), None, None,
                      _text(record.get("created")) or "", _text(record.get("profile"))) \
                if named else legacy_run(record)
        out.append(Entry(own, _text(record.get("experiment")) or path.parent.name,
                         _text(record.get("variant")) or path.stem, record, folder, path))
    return out


def _read_run(folder: Path, label: str, problems: list) -> Run:
    """The folder's run.json; the folder name is the run id whatever the file says."""
    path = folder / RUN_FILE
    data = _read_object(path, label, problems) if os.path.lexists(path) else {}
    data = data or {}
    dirty = data.get("git_dirty")
    return Run(folder.name, _text(data.get("git_commit")),
               dirty if isinstance(dirty, bool) else None, _text(data.get("machine")),
               _text(data.get("started")) or "", _text(data.get("profile")))


def _read_object(path: Path, label: str, problems: list) -> dict | None:
    """A JSON object from a regular file of bounded size (a link, a FIFO or a device is refused,
    not followed, waited on or read)."""
    try:
        data = safefs.load_json(safefs.read_regular(path, MAX_RECORD_BYTES, follow=False))
    except safefs.Unusable as err:
        problems.append(f"{label}: {err}")
        return None
    except (ValueError, RecursionError) as err:
        problems.append(f"{label}: unreadable ({type(err).__name__}: {err})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{label}: not a JSON object")
        return None
    return data


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}
