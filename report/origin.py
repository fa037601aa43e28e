"""Where a site's numbers came from, said in the footer of every page: the results committed in
a git checkout, a results directory with uncommitted changes, an ad-hoc directory, or analysis
JSONs alone, and the commits the records were made at (the checkout's HEAD is only the commit
the site was built at). A reviewer must tell the published record from someone's local run."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

from tpulens.report.load import Results

GIT_TIMEOUT_S = 10
MAX_COMMITS = 3  # named in the footer; more are counted


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


def run_commits(results: Results) -> list[str]:
    """The commits of the runs that wrote the records the site shows ("+dirty" when tracked
    files had changes), the most records first."""
    runs = {run.id: run for run in results.runs}
    counts = Counter(
        runs[r.run].commit_label if r.run in runs else r.git_commit or "no commit"
        for r in results.records
    )
    return [commit for commit, _ in counts.most_common()]


def _made_at(commits: list[str]) -> str:
    """The records' commits as an aside, e.g. (records made at commit c0ffee0), naming at most
    MAX_COMMITS of them."""
    if not commits:
        return ""
    named = ", ".join(commits[:MAX_COMMITS])
    more = f" and {len(commits) - MAX_COMMITS} more" if len(commits) > MAX_COMMITS else ""
    return f" (records made at commit{'s' if len(commits) > 1 else ''} {named}{more})"


def results_origin(
    results_dir: Path | None, extra_analyses: int = 0, commits: list[str] = ()
) -> str:
    """One phrase, e.g. "the results committed in results/ (records made at commit 2b68f4e);
    built at HEAD 5d1e0aa": `commits` are the records' own (run_commits), the checkout's HEAD
    only the build's."""
    if results_dir is None:
        return f"{_analyses(extra_analyses)} (no result records)"
    name = f"{Path(results_dir).as_posix().rstrip('/')}/"
    made = _made_at(list(commits))
    head = _git(results_dir, "rev-parse", "--short", "HEAD")
    tracked = _git(results_dir, "ls-files", "--", ".") if head else None
    if not head or not tracked:
        origin = f"an ad-hoc results directory ({name}), not committed results{made}"
    elif _git(results_dir, "status", "--porcelain", "--untracked-files=all", "--", "."):
        origin = f"{name} with uncommitted changes{made}; built at HEAD {head.strip()}"
    else:
        origin = f"the results committed in {name}{made}; built at HEAD {head.strip()}"
    return origin + (f", and {_analyses(extra_analyses)}" if extra_analyses else "")
