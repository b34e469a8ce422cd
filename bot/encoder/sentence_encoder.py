"""Sentence embeddings from the packaged all-MiniLM-L6-v2 through ONNX Runtime.

One call encodes a batch; texts are tokenised with the model's own WordPiece vocabulary (lower
case, accents stripped, as the uncased model was trained) and cut at MAX_TOKENS, which no chat
message reaches in practice but a pasted e-mail might."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from bot.encoder.converted import Variant, ensure_onnx
from bot.encoder.package import verified_file

MAX_TOKENS = 128
DIMENSIONS = 384


def default_threads() -> int:
    # One thread per session: Rasa serves several conversations at once on 2 cores, and a single
    # short sentence is too small to gain from splitting (measured in benchmarks/nlu_variants.py).
    return int(os.environ.get("ENCODER_THREADS", "1"))


class SentenceEncoder:
    def __init__(self, variant: Variant = Variant.FP32, *, threads: int | None = None,
                 onnx_path: Path | None = None) -> None:
        import onnxruntime
        from tokenizers import BertWordPieceTokenizer
        from tokenizers.models import WordPiece

        self.variant = variant
        vocab = WordPiece.read_file(str(verified_file("vocab.txt")))
        self._tokenizer = BertWordPieceTokenizer(vocab, lowercase=True, strip_accents=True)
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(onnx_path or ensure_onnx(variant)), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised sentence vectors, float32 [len(texts), 384]."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        if self.variant is Variant.INT8 and len(texts) > 1:
            # The int8 graph quantises each layer's input with one scale for the whole batch:
            # batched with others, a message would not get the vector it gets alone at serving.
            return np.vstack([self.encode([text]) for text in texts])
        batch = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        (embedding,) = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        return embedding
