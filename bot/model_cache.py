"""Training the Rasa model only when its inputs changed.

The model is keyed by a hash of config.yml, domain.yml, every file under data/, the custom
featurizer and the training arguments. A trained model
is kept in the cache directory (default ~/.cache/helpdesk-assistant/models) and copied into models/,
so a fresh clone on the same machine, CI included, reuses it instead of training again."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path(os.environ.get("MODEL_CACHE_DIR", Path.home() / ".cache" / "helpdesk-assistant" / "models"))


# Dialogue is mostly rules and forms; light story augmentation keeps TED training short on 2 cores
# without losing the stitched-story variety it needs.
TRAIN_ARGS = ("--augmentation", "10")


REVIEW_DIR = "review"  # data/review/: what `make review` proposes; never trained on


def training_data(root: Path = ROOT) -> list[Path]:
    """Every file under data/ except data/review/ (candidates are trained on only once a
    trainer copies them into data/)."""
    review = root / "data" / REVIEW_DIR
    return sorted(p for p in (root / "data").rglob("*")
                  if p.is_file() and review not in p.parents)


def training_inputs(root: Path = ROOT) -> list[Path]:
    # The custom featurizer's code (and the encoder graph it runs) shapes the model as much as
    # config.yml does.
    files = [root / "config.yml", root / "domain.yml", root / "bot" / "minilm_featurizer.py"]
    files += sorted((root / "bot" / "encoder").glob("*.py"))
    files += training_data(root)
    return files


def model_hash(root: Path = ROOT) -> str:
    digest = hashlib.sha256(" ".join(TRAIN_ARGS).encode() + b"\0")
    for path in training_inputs(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = ROOT) -> Path:
    return root / "models" / f"model-{model_hash(root)}.tar.gz"


def ensure_model(root: Path = ROOT, *, cache_dir: Path = DEFAULT_CACHE,
                 rasa_bin: str | None = None) -> Path:
    """Return the trained model for the current inputs, training it first if needed. Concurrent
    callers (two terminals, parallel test sessions) wait for one training instead of racing."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    with open(root / "models" / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _ensure_model_locked(root, cache_dir=cache_dir, rasa_bin=rasa_bin)


def _ensure_model_locked(root: Path, *, cache_dir: Path, rasa_bin: str | None) -> Path:
    target = model_path(root)
    if target.exists():
        return target
    cached = cache_dir / target.name
    if cached.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cached, target)
        print(f"==> model {target.name} restored from cache {cache_dir}", flush=True)
        return target
    rasa = rasa_bin or str(Path(sys.executable).parent / "rasa")
    print("==> training the Rasa model (config, domain or data changed); log: var/logs/train.log",
          flush=True)
    logs = root / "var" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(logs / "train.log", "w") as out:
        result = subprocess.run(
            [rasa, "train", "--config", "config.yml", "--domain", "domain.yml",
             "--data", *(str(p.relative_to(root)) for p in training_data(root)),
             "--out", "models", "--fixed-model-name", target.name.removesuffix(".tar.gz"),
             *TRAIN_ARGS],
            cwd=root, stdout=out, stderr=subprocess.STDOUT, env=training_env(),
        )
    if result.returncode != 0 or not target.exists():
        tail = (logs / "train.log").read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError("rasa train failed:\n" + "\n".join(tail))
    print(f"==> trained in {time.monotonic() - started:.0f}s: {target}", flush=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(target, cached)
    return target


def training_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """quiet_env for `rasa train`: the sentence encoder may use every core (a serving Rasa server
    gives it one, bot/encoder/sentence_encoder.py); nothing else runs during a training."""
    return quiet_env({"ENCODER_THREADS": str(os.cpu_count() or 1), **(extra or {})})


def quiet_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Rasa processes: TensorFlow and Python 3.11 deprecation noise filtered."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    # Custom pipeline components (bot.minilm_featurizer) are imported by module path.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


if __name__ == "__main__":
    print(ensure_model())
