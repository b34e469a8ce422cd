"""The packaged all-MiniLM-L6-v2 sentence encoder, run with ONNX Runtime (see sentence_encoder)."""
