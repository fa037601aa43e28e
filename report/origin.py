"""Where a site's numbers came from, said in the footer of every page: the results committed in
a git checkout, a results directory with uncommitted changes, an ad-hoc directory, or analysis
JSONs alone. A reviewer must tell the published record from someone's local run."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 10


def _git(directory: Path, *args: str) -> str | None:
    """Stdout of a git command run in `directory`, None outside a checkout or without git."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=directory,
            capture_output=True,
            text=True,
            check=False,
            timeout=GIT_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _analyses(count: int) -> str:
    return f"{count} analysis JSON{'s' if count != 1 else ''} given with --analysis"


def results_origin(results_dir: Path | None, extra_analyses: int = 0) -> str:
    """One phrase, e.g. "the results committed in results/ at 2b68f4e"."""
    if results_dir is None:
        return f"{_analyses(extra_analyses)} (no result records)"
    name = f"{Path(results_dir).as_posix().rstrip('/')}/"
    commit = _git(results_dir, "rev-parse", "--short", "HEAD")
    tracked = _git(results_dir, "ls-files", "--", ".") if commit else None
    if not commit or not tracked:
        origin = f"an ad-hoc results directory ({name}), not committed results"
    elif _git(results_dir, "status", "--porcelain", "--untracked-files=all", "--", "."):
        origin = f"{name} at commit {commit.strip()}, with uncommitted changes"
    else:
        origin = f"the results committed in {name} at {commit.strip()}"
    return origin + (f", and {_analyses(extra_analyses)}" if extra_analyses else "")
