"""`tpulens diff` under hostile input: what a pull request can put in results/ or type after
--git. Markdown stays inert (no HTML, link, image, mention, heading or broken row from a value)
and under the comment cap; nothing the user types reaches git as an option; odd files end in
one line, never a hang or a traceback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sample_results import record, write

from tpulens.cli import main
from tpulens.history.render import MARKDOWN_BUDGET

ROUND3 = Path(__file__).resolve().parents[2] / "shared" / "redteam" / "round3"
SPAN = re.compile(r"(?<!`)(`+) (.*?) \1(?!`)")
OWN_HTML = {"<details>", "</details>", "<summary>", "</summary>"}


@pytest.fixture
def round3():
    if not ROUND3.is_dir():
        pytest.skip(f"red-team inputs not found at {ROUND3} (they sit beside the checkout)")
    return ROUND3


@pytest.fixture(autouse=True)
def _no_suite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def diff(capsys, *args) -> tuple[int, str, str]:
    code = main(["diff", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def outside_code(markdown: str) -> str:
    """The Markdown with every code span taken out: what GitHub would render as markup."""
    return "\n".join(SPAN.sub("", line) for line in markdown.splitlines())


def assert_inert(markdown: str) -> None:
    bare = outside_code(markdown)
    assert "\r" not in markdown
    assert set(re.findall(r"<[^>]*>", bare)) <= OWN_HTML
    assert "](" not in bare and "@" not in bare and "http" not in bare and "<!--" not in bare
    assert [line for line in bare.splitlines() if line.startswith("#")] == \
        [bare.splitlines()[0]] + [line for line in bare.splitlines() if line == "#### "]
    header = None
    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = len(re.findall(r"(?<!\\)\|", SPAN.sub("x", line.replace("\\|", ""))))
            header = header or cells
            assert cells == header, line
        else:
            header = None


def test_values_from_records_and_analyses_render_as_text(capsys, round3):
    code, out, err = diff(capsys, round3 / "diff_md_injection_base",
                          round3 / "diff_md_injection_head", "--format", "markdown")
    assert code == 1 and err == ""
    assert out.startswith("### ❌ tpulens diff: 3 regression(s) in 4 variant(s)")
    assert_inert(out)
    # still there, as text: the hostile names and the analysis source
    assert "[click here](https://evil.example/phish)" in out and "@octocat" in out
    bare = outside_code(out)
    assert "predicted)</summary>" in out and bare.count("<details>") == bare.count("</details>")


def test_the_cap_holds_for_ten_thousand_variants_and_their_commits(capsys, tmp_path):
    for side, commit in (("b", lambda i: "base"), ("h", lambda i: f"c{i:07d}")):
        for i in range(10_000):
            data = record("exp", f"v{i}", {"accuracy": 0.5 if side == "b" else 0.4})
            data["git_commit"] = commit(i)
            write(tmp_path / side, f"exp/v{i}.json", data)
    code, out, _ = diff(capsys, tmp_path / "b", tmp_path / "h", "--format", "markdown")
    assert code == 1 and len(out) <= MARKDOWN_BUDGET
    assert out.rstrip().splitlines()[-1].startswith("Cut to fit a pull-request comment: ")
    assert "and 9990 more" in out.splitlines()[2]  # the head's commits, listed in part
    assert_inert(out)


def test_huge_values_are_cut(capsys, tmp_path):
    for side in ("b", "h"):
        data = record("e", "v" * 100_000, {"accuracy": 0.5 if side == "b" else 0.4},
                      notes=["n" * 100_000])
        data["environment"] = {f"k{i}": f"{side}{i}" * 1000 for i in range(50)}
        write(tmp_path / side, "e/v.json", data)
    code, out, _ = diff(capsys, tmp_path / "b", tmp_path / "h", "--format", "markdown")
    assert code == 1 and len(out) <= MARKDOWN_BUDGET
    assert max(len(line) for line in out.splitlines()) < 3_000
    assert_inert(out)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    repo = tmp_path / "repo"
    write(repo / "r", "q/v.json", record("q", "v", {"accuracy": 0.5}))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "r")
    monkeypatch.chdir(repo)
    return repo


@pytest.mark.parametrize("ref", ["--output={victim}", "--list", "", "-h", "--remote=x",
                                 "main --output={victim}"])
def test_a_ref_never_reaches_git_as_an_option(capsys, repo, tmp_path, ref):
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    code, out, err = diff(capsys, f"--git={ref.format(victim=victim)}", "r", "r")
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert "Traceback" not in err and victim.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["repo", "victim"]


def test_a_ref_is_any_commit_name(capsys, repo):
    head = git(repo, "rev-parse", "HEAD").strip()
    for ref in ("main", "HEAD", head, head[:7], "main~0"):
        code, out, _ = diff(capsys, "--git", ref, "r", "r")
        assert code == 0 and out.startswith("tpulens diff: no regressions"), ref


def test_committed_links_are_not_extracted(capsys, repo, tmp_path):
    for name, target in (("zero.json", "/dev/zero"), ("passwd.json", "../../../etc/passwd"),
                         ("up.json", "../v.json")):
        os.symlink(target, repo / "r" / "q" / name)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "links")
    for name in ("zero.json", "passwd.json", "up.json"):
        (repo / "r" / "q" / name).unlink()
    code, out, err = diff(capsys, "--git", "HEAD", "r", "r")
    assert (code, err) == (0, "") and "1 variants compared" in out


def test_fifos_devices_and_odd_numbers_end_in_one_line(capsys, tmp_path):
    base = tmp_path / "base"
    write(base, "q/v.json", record("q", "v", {"accuracy": 0.5}))
    cases = {}
    for name, make in (("fifo", lambda d: os.mkfifo(d / "q" / "w.json")),
                       ("zero", lambda d: os.symlink("/dev/zero", d / "q" / "w.json")),
                       ("runjson", lambda d: (d / "history" / "20990101T000000Z-x").mkdir(
                           parents=True) or os.mkfifo(d / "history" / "20990101T000000Z-x"
                                                      / "run.json"))):
        head = tmp_path / name
        shutil.copytree(base, head)
        make(head)
        cases[name] = head
    for name, head in cases.items():  # left out (not a record) or refused in one line
        code, out, err = diff(capsys, base, head)
        assert (code, err) == (0, "") and "1 variants compared" in out or \
            code == 2 and len(err.splitlines()) == 1 and "not a regular file" in err, (name, err)


def test_huge_integers_and_odd_run_files_are_read_as_values(capsys, tmp_path):
    base, head = tmp_path / "base", tmp_path / "head"
    write(base, "q/v.json", record("q", "v", {"accuracy": 0.5, "size_bytes": 100}))
    raw = json.dumps(record("q", "v", {"accuracy": 0.5, "size_bytes": 100}))
    (head / "q").mkdir(parents=True)
    (head / "q" / "v.json").write_text(raw.replace('"size_bytes": 100', '"size_bytes": '
                                                   + "9" * 400))
    run = head / "history" / "20990101T000000Z-x"
    write(run, "run.json", {"git_commit": ["a"], "machine": 5, "git_dirty": "yes"})
    write(run, "q/v.json", record("q", "v", {"accuracy": 0.4}))
    for fmt in ("text", "markdown", "json"):
        code, out, err = diff(capsys, base, head, "--format", fmt)
        assert code == 0 and err == "" and "Traceback" not in out


def test_op_matching_takes_linear_time(capsys, tmp_path):
    """16,000 ops matched in reverse order, each moved to the CPU with a root cause: the
    matching and root-cause lookups are dictionary work, not scans (they took 15 s)."""
    def op(i: int, placement: str, root_cause=None) -> dict:
        return {"subgraph": 0, "index": i, "opcode": "ADD", "outputs": [f"t{i}"],
                "placement": placement, "status": "s", "root_cause": root_cause}

    n = 16_000
    sides = {"base": [op(i, "TPU") for i in range(n)],
             "head": [op(i, "CPU", i // 2) for i in reversed(range(n))]}
    for side, ops in sides.items():
        write(tmp_path / side, "m/v.json", record("m", "v", {}, analysis="analysis/a.json"))
        write(tmp_path / side, "analysis/a.json", {"summary": {}, "ops": ops})
    start = time.perf_counter()
    code, out, _ = diff(capsys, tmp_path / "base", tmp_path / "head")
    assert code == 1 and f"m/v: {n} op(s) moved to the CPU" in out
    assert "op 3 ADD TPU → CPU: s (root cause: op 1 ADD: s)" in out
    assert time.perf_counter() - start < 5
