"""all-MiniLM-L6-v2 (a 6-layer BERT) as an ONNX graph, built straight from the packaged
safetensors weights: no PyTorch, no TensorFlow tracing, no model hub.

The graph computes only what NLU uses: the sentence embedding (mean of the last layer's token
vectors over the attention mask, L2-normalised, as the model was trained for: its modules.json
names mean pooling and normalisation). Token-level outputs are never materialised.

Inputs: input_ids and attention_mask, int64 [batch, tokens]. Output: embedding, float [batch, 384].
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

OPSET = 17  # LayerNormalization is a standard op from 17 on


def build(model_dir: Path, *, int8: bool = False):  # -> onnx.ModelProto
    """The encoder graph; with `int8`, every linear layer's weights are stored as int8 (one scale
    per output column) and its input is quantised on the fly (DynamicQuantizeLinear +
    MatMulInteger, which onnxruntime fuses), the scheme of onnxruntime's quantize_dynamic."""
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text())
    weights = load_file(str(model_dir / "model.safetensors"))
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config["layer_norm_eps"])

    initializers = []
    nodes = []

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def w(name: str) -> np.ndarray:
        return weights[name].astype(np.float32)

    def linear(x: str, prefix: str, out: str) -> str:
        # PyTorch keeps Linear weights as [out, in]; MatMul wants [in, out].
        matrix = w(prefix + ".weight").T
        bias = const(prefix + ".bias", w(prefix + ".bias"))
        if not int8:
            product = node("MatMul", [x, const(prefix + ".weight.T", matrix)], out + ".mm")
            return node("Add", [product, bias], out)
        scales = np.maximum(np.abs(matrix).max(axis=0), 1e-8) / 127.0
        quantised = np.clip(np.round(matrix / scales), -127, 127).astype(np.int8)
        nodes.append(helper.make_node("DynamicQuantizeLinear", [x],
                                      [out + ".xq", out + ".xs", out + ".xz"], name=out + ".q"))
        product = node("MatMulInteger", [out + ".xq", const(prefix + ".weight.q", quantised),
                                         out + ".xz",
                                         const(prefix + ".weight.z", np.zeros(matrix.shape[1], np.int8))],
                       out + ".mmi")
        rescale = node("Mul", [out + ".xs", const(prefix + ".weight.s", scales.astype(np.float32))],
                       out + ".scale")
        product = node("Mul", [node("Cast", [product], out + ".mmf", to=TensorProto.FLOAT), rescale],
                       out + ".mm")
        return node("Add", [product, bias], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node("LayerNormalization",
                    [x, const(prefix + ".weight", w(prefix + ".weight")),
                     const(prefix + ".bias", w(prefix + ".bias"))], out, axis=-1, epsilon=eps)

    # Embeddings: word + position + token type 0 (single-sentence input), then LayerNorm.
    word = node("Gather", [const("word_embeddings", w("embeddings.word_embeddings.weight")),
                           "input_ids"], "emb.word")
    # The first `tokens` rows of the position table (token type 0 folded in).
    seq_len = node("Shape", ["input_ids"], "ids.len", start=1, end=2)
    position_and_type = (w("embeddings.position_embeddings.weight")
                         + w("embeddings.token_type_embeddings.weight")[0])
    pos = node("Slice", [const("position_embeddings", position_and_type),
                         const("zero_1d", np.array([0], np.int64)), seq_len,
                         const("axis_0", np.array([0], np.int64))], "emb.pos")
    x = layer_norm(node("Add", [word, pos], "emb.sum"), "embeddings.LayerNorm", "emb")

    # Padding positions get -10000 before softmax, as BERT does.
    mask = node("Cast", ["attention_mask"], "mask.f", to=TensorProto.FLOAT)
    blocked = node("Mul", [node("Sub", [const("one_f", np.array(1.0, np.float32)), mask],
                                "mask.inv"),
                           const("neg_big", np.array(-10000.0, np.float32))], "mask.add")
    blocked = node("Unsqueeze", [blocked, const("axes_1_2", np.array([1, 2], np.int64))],
                   "mask.bias")
    split_shape = const("split_heads", np.array([0, 0, heads, head_dim], np.int64))
    merge_shape = const("merge_heads", np.array([0, 0, hidden], np.int64))
    scale = const("scale", np.array(1.0 / math.sqrt(head_dim), np.float32))
    sqrt2 = const("sqrt2", np.array(math.sqrt(2.0), np.float32))
    half = const("half", np.array(0.5, np.float32))

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"

        def heads_of(name: str, perm: list[int]) -> str:
            projected = linear(x, f"{p}.attention.self.{name}", f"l{i}.{name}")
            return node("Transpose", [node("Reshape", [projected, split_shape], f"l{i}.{name}.r")],
                        f"l{i}.{name}.t", perm=perm)

        q = heads_of("query", [0, 2, 1, 3])  # [B, h, S, d]
        k = heads_of("key", [0, 2, 3, 1])    # [B, h, d, S]
        v = heads_of("value", [0, 2, 1, 3])  # [B, h, S, d]
        scores = node("Add", [node("Mul", [node("MatMul", [q, k], f"l{i}.qk"), scale],
                                   f"l{i}.qk.s"), blocked], f"l{i}.scores")
        probs = node("Softmax", [scores], f"l{i}.probs", axis=-1)
        context = node("Reshape", [node("Transpose", [node("MatMul", [probs, v], f"l{i}.ctx")],
                                        f"l{i}.ctx.t", perm=[0, 2, 1, 3]), merge_shape],
                       f"l{i}.ctx.m")
        attended = linear(context, f"{p}.attention.output.dense", f"l{i}.attn")
        x = layer_norm(node("Add", [attended, x], f"l{i}.attn.res"),
                       f"{p}.attention.output.LayerNorm", f"l{i}.attn.ln")
        inner = linear(x, f"{p}.intermediate.dense", f"l{i}.ffn.in")
        # Exact GELU, as BERT's "gelu": 0.5 * x * (1 + erf(x / sqrt 2)).
        gelu = node("Mul", [node("Mul", [inner, half], f"l{i}.gelu.h"),
                            node("Add", [node("Erf", [node("Div", [inner, sqrt2], f"l{i}.gelu.d")],
                                              f"l{i}.gelu.e"), const(f"l{i}.one", np.array(1.0, np.float32))],
                                 f"l{i}.gelu.p")], f"l{i}.gelu")
        out = linear(gelu, f"{p}.output.dense", f"l{i}.ffn.out")
        x = layer_norm(node("Add", [out, x], f"l{i}.ffn.res"), f"{p}.output.LayerNorm",
                       f"l{i}.out")

    # Mean pooling over real tokens, then L2 normalisation.
    mask3 = node("Unsqueeze", [mask, const("axis_2", np.array([2], np.int64))], "mask.3")
    summed = node("ReduceSum", [node("Mul", [x, mask3], "pool.masked"),
                                const("axis_1", np.array([1], np.int64))], "pool.sum", keepdims=0)
    counts = node("Max", [node("ReduceSum", [mask, const("axis_1b", np.array([1], np.int64))],
                               "pool.n", keepdims=1),
                          const("tiny", np.array(1e-9, np.float32))], "pool.n.safe")
    mean = node("Div", [summed, counts], "pool.mean")
    # ReduceL2 takes its axes as an attribute until opset 18 (ReduceSum as an input from 13).
    norm = node("Max", [node("ReduceL2", [mean], "pool.l2", axes=[-1], keepdims=1),
                        const("tiny_norm", np.array(1e-12, np.float32))], "pool.l2.safe")
    node("Div", [mean, norm], "embedding")

    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2-sentence",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="helpdesk-assistant")
    model.ir_version = 8  # what onnxruntime and onnx 1.15 both read
    return model
