"""The ONNX form of the packaged encoder, converted once and cached by the hash of what it is made
from: the packaged weights' digests, the graph builder's source, the variant and the converter's
versions. The converted file's own SHA-256 is written beside it and checked on every load, so a
truncated or edited cache entry is rebuilt instead of being trusted.

`python -m bot.encoder.converted` converts every variant (`make setup` runs it)."""

from __future__ import annotations

import enum
import fcntl
import hashlib
import os
from importlib import metadata
from pathlib import Path

from bot.encoder import onnx_graph
from bot.encoder.package import SHA256, file_sha256, verified_model_dir

DEFAULT_CACHE = Path(os.environ.get(
    "ENCODER_CACHE_DIR", Path.home() / ".cache" / "helpdesk-assistant" / "encoder"))


class Variant(str, enum.Enum):
    FP32 = "fp32"
    # Linear weights as int8, activations quantised on the fly (see onnx_graph.build).
    INT8 = "int8"


def cache_key(variant: Variant) -> str:
    # The installed version, not an import: a serving Rasa server never needs onnx itself.
    onnx_version = metadata.version("onnx")
    digest = hashlib.sha256()
    for name in sorted(SHA256):
        digest.update(f"{name}={SHA256[name]}\0".encode())
    digest.update(Path(onnx_graph.__file__).read_bytes())
    digest.update(f"\0{variant.value}\0onnx={onnx_version}".encode())
    return digest.hexdigest()[:16]


def ensure_onnx(variant: Variant = Variant.FP32, cache_dir: Path = DEFAULT_CACHE) -> Path:
    """Path of the verified ONNX file for `variant`, converting it first if it is missing or does
    not match its recorded digest. Concurrent callers (training and a starting server) wait for one
    conversion instead of racing."""
    target = cache_dir / f"minilm-{variant.value}-{cache_key(variant)}.onnx"
    if _verified(target):  # no lock, no write: a server may run on a read-only file system
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".convert.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _verified(target):
            return target
        _convert(variant, target)
        if not _verified(target):
            raise RuntimeError(f"{target} failed its digest check right after conversion")
        return target


def _digest_file(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _verified(target: Path) -> bool:
    sidecar = _digest_file(target)
    if not target.exists() or not sidecar.exists():
        return False
    return sidecar.read_text().strip() == file_sha256(target)


def _convert(variant: Variant, target: Path) -> None:
    import onnx

    model = onnx_graph.build(verified_model_dir(), int8=variant is Variant.INT8)
    onnx.checker.check_model(model)
    partial = target.with_name(target.name + ".partial")
    onnx.save_model(model, str(partial))
    # The digest first, then the rename: a crash in between leaves no file that looks verified.
    _digest_file(target).write_text(file_sha256(partial) + "\n")
    partial.replace(target)


if __name__ == "__main__":
    for v in Variant:
        print(ensure_onnx(v))
