"""Compare two results directories: every variant present in both, metric by metric (with its
direction, unit, absolute and relative change, and a verdict against its threshold; latency
judged from the raw samples), the ops that moved between the Edge TPU and the CPU, environment
differences, and variants added or removed.

With --git REF, BASE is read as committed at REF (git archive: nothing is checked out), e.g.
`tpulens diff --git origin/main results results` compares the working tree with main.
Thresholds and the significance level come from the [diff] table of benchmarks.toml.

Exit code: 0 when nothing got worse beyond its threshold, 1 when something did (or a variant
that was ok is no longer, or an op left the Edge TPU), 2 on bad input. A finding (a machine
shift: most variants' timing moved together) is named once and never fails the exit code.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

from tpulens import extras
from tpulens.errors import InputError

HELP = "compare two results directories: what got better or worse, and which ops moved"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", type=Path, help="results directory to compare against")
    parser.add_argument("head", type=Path, help="results directory with the new results")
    parser.add_argument("--git", metavar="REF",
                        help="read BASE as committed at this git ref (branch, tag, commit)")
    parser.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                        help="text (default), markdown (pull-request comment, job summary) "
                             "or json")
    parser.add_argument("--config", type=Path, default=None,
                        help="suite whose [diff] thresholds apply (default: ./benchmarks.toml "
                             "if present, else built-in defaults)")


def run(args: argparse.Namespace) -> int:
    extras.require("diff")
    from tpulens.history import diff, render, store
    from tpulens.history.settings import read_settings

    settings = read_settings(args.config)
    with tempfile.TemporaryDirectory(prefix="tpulens-diff-") as tmp:
        at_ref = args.git is not None
        base_dir = committed(args.git, args.base, Path(tmp)) if at_ref else args.base
        base_label = f"{args.base} at {args.git}" if at_ref else str(args.base)
        snapshots = []
        for label, directory in ((base_label, base_dir), (str(args.head), args.head)):
            history = store.load(directory)
            if history.problems:
                raise InputError(f"{label}: {history.problems[0]}")
            latest = history.latest()
            if not latest:
                raise InputError(f"{label}: no result records (<experiment>/<variant>.json)")
            snapshots.append(latest)
        result = diff.compare(*snapshots, settings, base_label, str(args.head))
        print(render.render(result, args.format))
    return 1 if result.regressed else 0


def committed(ref: str, path: Path, dest: Path) -> Path:
    """The directory `path` as committed at `ref`, extracted under `dest` with git archive. The
    ref is resolved to a commit first, so nothing the user typed reaches git as an option; only
    regular files and directories are extracted (a committed link points nowhere here)."""
    if not ref.strip():
        raise InputError("--git: empty ref (name a branch, tag or commit)")
    top = Path(_git(["rev-parse", "--show-toplevel"], Path.cwd(), ref).decode().strip())
    if not path.resolve().is_relative_to(top.resolve()):
        raise InputError(f"--git {ref}: {path} is outside the git checkout {top}")
    commit = _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
                  top, ref, "not a commit in this repository").decode().strip()
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        raise InputError(f"--git {ref}: not a commit in this repository")
    relative = path.resolve().relative_to(top.resolve()).as_posix()
    archive = _git(["archive", "--format=tar", commit, "--", relative], top, ref)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise InputError(f"--git {ref}: cannot extract {relative}: {err}") from None
    return dest / relative


def _git(args: list[str], cwd: Path, ref: str, failure: str = "") -> bytes:
    """git's output; InputError with `failure` or git's first line of complaint when it fails."""
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False,
                              stdin=subprocess.DEVNULL)
    except OSError as err:
        raise InputError(f"--git {ref}: cannot run git: {err.strerror}") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"--git {ref}: "
                         + (failure or (lines[0] if lines else f"git {args[0]} failed")))
    return proc.stdout
