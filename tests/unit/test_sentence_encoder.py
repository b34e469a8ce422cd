"""The ONNX sentence encoder computes what the packaged model computes, and its converted file is
trusted only while it matches its recorded digest."""

from __future__ import annotations

import numpy as np
import pytest

from bot.encoder.converted import Variant, ensure_onnx
from bot.encoder.package import verified_model_dir
from bot.encoder.sentence_encoder import SentenceEncoder

TEXTS = [
    "hi",
    "where is my order 482913??",
    "Dear team, I would like to lodge a formal complaint about the parcel that arrived broken.",
    "can u tell me ur support hours pls 🙏",
    "Ich möchte mein Passwort zurücksetzen",
]


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    """Mean-pooled, normalised last-layer vectors from the same weights through TensorFlow BERT
    (transformers), the way sentence-transformers defines all-MiniLM-L6-v2's embedding."""
    from transformers import BertTokenizerFast, TFBertModel

    tokenizer = BertTokenizerFast(str(verified_model_dir() / "vocab.txt"))
    model = TFBertModel.from_pretrained(str(verified_model_dir()))
    batch = tokenizer(TEXTS, padding=True, return_tensors="np")
    hidden = model(**dict(batch)).last_hidden_state.numpy()
    mask = batch["attention_mask"][..., None]
    pooled = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


@pytest.mark.parametrize("variant, min_cosine", [(Variant.FP32, 0.99999), (Variant.INT8, 0.97)])
def test_embeddings_match_the_reference_model(variant: Variant, min_cosine: float,
                                              reference: np.ndarray) -> None:
    got = SentenceEncoder(variant).encode(TEXTS)
    assert got.shape == (len(TEXTS), 384)
    assert (got * reference).sum(axis=1).min() >= min_cosine


@pytest.mark.parametrize("variant", list(Variant))
def test_padding_in_a_batch_does_not_change_a_vector(variant: Variant) -> None:
    """Training featurises in batches, serving one message at a time: a message must get the
    same vector either way."""
    encoder = SentenceEncoder(variant)
    batched = encoder.encode(TEXTS)
    one_by_one = np.vstack([encoder.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_vectors_are_unit_length() -> None:
    norms = np.linalg.norm(SentenceEncoder(Variant.FP32).encode(TEXTS), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_an_overlong_message_is_cut_not_refused() -> None:
    assert SentenceEncoder(Variant.FP32).encode(["refund " * 2000]).shape == (1, 384)


def test_a_tampered_conversion_is_rebuilt(tmp_path) -> None:
    path = ensure_onnx(Variant.FP32, cache_dir=tmp_path)
    good = path.read_bytes()
    path.write_bytes(good[:-1000])  # a truncated copy, as a full disk would leave
    assert ensure_onnx(Variant.FP32, cache_dir=tmp_path) == path
    assert path.read_bytes() == good


def test_a_cached_conversion_is_reused(tmp_path) -> None:
    path = ensure_onnx(Variant.FP32, cache_dir=tmp_path)
    before = path.stat().st_mtime_ns
    assert ensure_onnx(Variant.FP32, cache_dir=tmp_path) == path
    assert path.stat().st_mtime_ns == before
