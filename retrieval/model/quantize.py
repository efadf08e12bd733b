"""int8 weights that keep the fp32 model's vectors: what `precision="int8"` runs on ONNX Runtime.

Plain dynamic quantisation of every MatMul gave all-mpnet-base-v2 another model's vectors on this
AVX2 CPU (cosine to fp32 0.71 on real passages, docs/benchmarks.md). Measured node by node, three
things did it, and each has a known remedy:

- without VNNI, ONNX Runtime's u8 x s8 kernels saturate on 8-bit weights: `reduce_range` keeps them
  to 7 bits (without it the vectors are noise, cosine ~0);
- the feed-forward down-projection reads the GELU's output, whose few huge channels leave the rest of
  the tensor with no resolution under one per-tensor activation scale: it stays fp32 (alone it took
  the cosine to 0.87);
- the other projections read layer-normalised states with outlier channels too: each is smoothed
  first (SmoothQuant, Xiao et al. 2023), its input divided per channel by s = max|x|^0.5 / max|w|^0.5
  and its weight rows multiplied by s, the same product in exact arithmetic with the outliers moved
  into the weights, where per-channel quantisation absorbs them. The activation ranges come from a
  fixed calibration text shipped beside this module (paragraphs of the Budapest Process note).

On 100 real passages of the evaluation corpus: cosine to fp32 min 0.996, mean 0.9985, and 1.3-1.4x
the fp32 speed (the down-projections, a third of the weights' work, stay fp32).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

#: SmoothQuant's migration strength: 0.5 balances the activations' and the weights' ranges
ALPHA = 0.5
CALIBRATION_TEXT = Path(__file__).with_name("calibration.txt")


def recipe_digest() -> str:
    """A short hash of what the int8 file depends on besides the model: the calibration text and the
    recipe, so a change to either makes a new file rather than reusing an older one."""
    digest = hashlib.sha256(f"alpha={ALPHA};reduce_range;per_channel;down-projections fp32".encode())
    digest.update(CALIBRATION_TEXT.read_bytes())
    return digest.hexdigest()[:8]


def calibration_texts() -> list[str]:
    return [p.strip() for p in CALIBRATION_TEXT.read_text(encoding="utf-8").split("\n\n") if p.strip()]


def quantize(fp32: Path, target: Path, tokenizer, max_length: int, intermediate_size: int | None) -> None:
    """Write `fp32`'s graph to `target` with smoothed int8 weights, as the module docstring says."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model, to_quantize = smoothed(fp32, tokenizer, max_length, intermediate_size)
    smoothed_file = target.with_name(target.name + ".smoothed")
    try:
        onnx.save(model, str(smoothed_file))
        del model  # the quantiser reads the file: one copy of the weights in memory at a time
        quantize_dynamic(str(smoothed_file), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                         nodes_to_quantize=to_quantize, op_types_to_quantize=["MatMul"])
    finally:
        smoothed_file.unlink(missing_ok=True)


def smoothed(fp32: Path, tokenizer, max_length: int, intermediate_size: int | None):
    """(`fp32`'s graph with every projection but the down-projections smoothed, still in fp32 and so
    computing the same vectors, the names of the smoothed projections: the ones to quantise)."""
    import onnx

    model = onnx.load(str(fp32))
    weights = {i.name: i for i in model.graph.initializer}
    projections = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    # the down-projections read the activation function's output: their input has intermediate_size channels
    to_quantize = [n for n in projections if not (intermediate_size and weights[n.input[1]].dims[0] == intermediate_size)]
    ranges = activation_ranges(model, {n.input[0] for n in to_quantize}, tokenizer, max_length)
    smooth(model, to_quantize, weights, ranges)
    return model, [n.name for n in to_quantize]


def activation_ranges(model, tensors: set[str], tokenizer, max_length: int) -> dict[str, np.ndarray]:
    """Per channel, the largest |value| each of `tensors` takes on the calibration text's real tokens."""
    import onnx
    import onnxruntime as ort

    # the tensors read as extra outputs of the graph itself, removed again (a copy of the graph would
    # hold its weights twice)
    known = len(model.graph.output)
    for name in sorted(tensors - {o.name for o in model.graph.output}):
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    del model.graph.output[known:]
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    ranges: dict[str, np.ndarray] = {}
    texts = calibration_texts()
    for start in range(0, len(texts), 4):
        batch = tokenizer.encode(texts[start : start + 4], max_length)
        real = batch["attention_mask"].astype(bool)
        for name, value in zip(outputs, session.run(None, {n: batch[n] for n in inputs})):
            if name in tensors:
                peak = np.abs(value[real]).max(axis=0)
                ranges[name] = np.maximum(ranges[name], peak) if name in ranges else peak
    return ranges


def smooth(model, nodes, weights, ranges: dict[str, np.ndarray]) -> None:
    """Divide each node's input by s per channel (a Mul just before it) and multiply its weight rows by s."""
    from onnx import helper, numpy_helper

    smoothing = {}
    for node in nodes:
        weight = numpy_helper.to_array(weights[node.input[1]])
        scale = np.maximum(ranges[node.input[0]], 1e-5) ** ALPHA / np.maximum(np.abs(weight).max(axis=1), 1e-5) ** (1 - ALPHA)
        weights[node.input[1]].CopyFrom(numpy_helper.from_array((weight * scale[:, None]).astype(np.float32), node.input[1]))
        inverse = numpy_helper.from_array((1.0 / scale).astype(np.float32), f"{node.name}/smooth_inverse")
        model.graph.initializer.append(inverse)
        smoothed_input = f"{node.name}/smoothed_input"
        smoothing[node.name] = helper.make_node("Mul", [node.input[0], inverse.name], [smoothed_input], name=f"{node.name}/smooth")
        node.input[0] = smoothed_input
    ordered = [m for n in model.graph.node for m in ([smoothing[n.name]] if n.name in smoothing else []) + [n]]
    del model.graph.node[:]
    model.graph.node.extend(ordered)
