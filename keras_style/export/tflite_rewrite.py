"""Rewrites a converted `.tflite` model so the XNNPACK delegate runs it in less memory.

XNNPACK runs a convolution with a k x k kernel through an *indirection buffer*: one
pointer per kernel tap per output pixel, kept for the life of the interpreter (8 bytes ×
k² × H × W). For a 9x9 conv at 1024² that is 680 MB, and the Johnson TransformNet has two
of them at full resolution (its first and last conv): most of the 1.8 GB that a 1024²
TransformNet run took, and most of its first-call cost (the buffers are written, page by
page, when the interpreter first runs at a size).

`space_to_depth_large_convs` replaces each such conv (stride 1, no dilation, VALID
padding, odd kernel of at least `MIN_KERNEL`, constant float weights) by the same
computation on 2x2 pixel blocks:

    CONV_2D 2x2 stride 2, one-hot weights  (space-to-depth: (H, W, C) -> (H/2, W/2, 4C))
    CONV_2D (k//2+1)² on the blocks        (4C -> 4·C_out; the k x k weights, rearranged)
    DEPTH_TO_SPACE 2                       ((H/2, W/2, 4·C_out) -> (H, W, C_out))

A 9x9 conv then has 25 taps per 2x2 block instead of 81 per pixel: its indirection
buffers shrink 13× (680 MB -> 52 MB at 1024²) for 23% more multiply-adds on that conv
(the rearranged kernel holds zeros). Each output is the same sum of the same products
(plus exact zeros), added in another order, so results differ from the original conv by
float32 rounding only. The space-to-depth is a conv (its weights copy each input value
exactly once, times 1.0) because TFLite's SPACE_TO_DEPTH op is not delegated to XNNPACK
for inputs of dynamic size.

The block form needs an even input height and width. A graph does not say that, so the
caller must know it (the Johnson TransformNet pads every image to a multiple of 4 inside
the graph, so all its full-resolution tensors have even sizes).

Only the `.tflite` flatbuffer is changed (read and written with the schema classes that
ship with TensorFlow); nothing here runs a model.
"""

from __future__ import annotations

import numpy as np

# Smallest kernel worth rewriting: a 7x7 conv drops from 49 to 16 taps per block of 4
# pixels (+31% multiply-adds); a 3x3 would go from 9 to 4 (+78%), not worth it.
MIN_KERNEL = 7


def space_to_depth_large_convs(model: bytes) -> tuple[bytes, int]:
    """Rewrites every large stride-1 conv of `model` into the 2x2 block form (module doc).

    The caller guarantees that those convs' inputs have even height and width at run
    time. Convs whose weights are not constant float32 (or float16 dequantized to float32,
    as `Optimize.DEFAULT` with float16 writes them) are left as they are, as are
    int8-quantized ones.

    Returns:
      (the rewritten model, the number of convs rewritten). With none rewritten, the
      input bytes are returned unchanged.
    """
    from tensorflow.lite.python import schema_py_generated as fb
    from tensorflow.lite.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    rewritten = 0
    for subgraph in obj.subgraphs:
        rewritten += _rewrite_subgraph(fb, obj, subgraph)
    if not rewritten:
        return model, 0
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj)), rewritten


class _Graph:
    """Index helpers over one subgraph of a mutable `ModelT`."""

    def __init__(self, fb, model, subgraph):
        self.fb = fb
        self.model = model
        self.subgraph = subgraph

    def opcode(self, operator) -> int:
        code = self.model.operatorCodes[operator.opcodeIndex]
        return max(int(code.builtinCode), int(code.deprecatedBuiltinCode))

    def producer(self, tensor: int):
        for operator in self.subgraph.operators:
            if tensor in list(operator.outputs):
                return operator
        return None

    def constant(self, tensor: int) -> np.ndarray | None:
        """The values of a constant tensor (its own buffer), else None."""
        t = self.subgraph.tensors[tensor]
        buffer = self.model.buffers[t.buffer] if t.buffer < len(self.model.buffers) else None
        if buffer is None or buffer.data is None or len(buffer.data) == 0:
            return None
        dtype = {self.fb.TensorType.FLOAT32: np.float32, self.fb.TensorType.FLOAT16: np.float16}.get(t.type)
        quantization = t.quantization
        if dtype is None or quantization is not None and quantization.scale is not None and len(quantization.scale):
            return None
        return np.frombuffer(bytes(bytearray(buffer.data)), dtype=dtype).reshape([int(d) for d in t.shape])

    def float_weights(self, tensor: int) -> tuple[np.ndarray, bool] | None:
        """(float32 values, stored as float16?) of a constant float tensor, directly or
        through a DEQUANTIZE of a float16 constant; None otherwise."""
        values = self.constant(tensor)
        if values is not None:
            return (values.astype(np.float32), False) if values.dtype == np.float32 else None
        producer = self.producer(tensor)
        if producer is None or self.opcode(producer) != self.fb.BuiltinOperator.DEQUANTIZE:
            return None
        source = self.constant(int(producer.inputs[0]))
        if source is None or source.dtype != np.float16:
            return None
        return source.astype(np.float32), True

    def add_buffer(self, data: np.ndarray) -> int:
        buffer = self.fb.BufferT()
        buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8)
        self.model.buffers.append(buffer)
        return len(self.model.buffers) - 1

    def add_tensor(self, name: str, shape, signature, tensor_type, buffer: int = 0) -> int:
        t = self.fb.TensorT()
        t.name = name.encode()
        t.shape = np.asarray(shape, dtype=np.int32)
        t.shapeSignature = None if signature is None else np.asarray(signature, dtype=np.int32)
        t.type = tensor_type
        t.buffer = buffer
        self.subgraph.tensors.append(t)
        return len(self.subgraph.tensors) - 1

    def add_constant(self, name: str, values: np.ndarray, as_float16: bool) -> tuple[int, list]:
        """A float32 constant for an op input: (tensor, ops to run first). Stored as
        float16 behind a DEQUANTIZE when `as_float16` (as the float16 converter does)."""
        fb = self.fb
        values = np.asarray(values, np.float32)
        if not as_float16:
            return self.add_tensor(name, values.shape, None, fb.TensorType.FLOAT32, self.add_buffer(values)), []
        half = self.add_tensor(name + "_fp16", values.shape, None, fb.TensorType.FLOAT16,
                               self.add_buffer(values.astype(np.float16)))
        full = self.add_tensor(name, values.shape, None, fb.TensorType.FLOAT32)
        dequantize = self.operator(fb.BuiltinOperator.DEQUANTIZE, [half], [full])
        return full, [dequantize]

    def opcode_index(self, builtin: int) -> int:
        for i, code in enumerate(self.model.operatorCodes):
            if max(int(code.builtinCode), int(code.deprecatedBuiltinCode)) == builtin and not code.customCode:
                return i
        code = self.fb.OperatorCodeT()
        code.builtinCode = builtin
        code.deprecatedBuiltinCode = min(builtin, 127)
        code.version = 1
        self.model.operatorCodes.append(code)
        return len(self.model.operatorCodes) - 1

    def operator(self, builtin: int, inputs, outputs, options_type: int = 0, options=None):
        op = self.fb.OperatorT()
        op.opcodeIndex = self.opcode_index(builtin)
        op.inputs = np.asarray(inputs, dtype=np.int32)
        op.outputs = np.asarray(outputs, dtype=np.int32)
        op.builtinOptionsType = options_type
        op.builtinOptions = options
        return op

    def conv_options(self, stride: int, activation: int):
        options = self.fb.Conv2DOptionsT()
        options.padding = self.fb.Padding.VALID
        options.strideH = options.strideW = stride
        options.dilationHFactor = options.dilationWFactor = 1
        options.fusedActivationFunction = activation
        return options

    def drop_dead_operators(self) -> None:
        """Removes operators whose outputs nothing reads (the old filters' DEQUANTIZEs),
        and empties the buffers only they used, so the file does not keep both weights."""
        subgraph = self.subgraph
        while True:
            read = {int(i) for op in subgraph.operators for i in op.inputs if i >= 0}
            read |= {int(i) for i in subgraph.outputs}
            dead = [op for op in subgraph.operators
                    if len(op.outputs) and not any(int(o) in read for o in op.outputs)]
            if not dead:
                break
            subgraph.operators = [op for op in subgraph.operators if op not in dead]
        used_tensors = {int(i) for op in subgraph.operators for i in list(op.inputs) + list(op.outputs) if i >= 0}
        used_tensors |= {int(i) for i in list(subgraph.inputs) + list(subgraph.outputs)}
        used_buffers = {
            t.buffer for s in self.model.subgraphs for k, t in enumerate(s.tensors)
            if s is not subgraph or k in used_tensors
        }
        for k, t in enumerate(subgraph.tensors):
            if k not in used_tensors and t.buffer not in used_buffers and t.buffer > 0:
                self.model.buffers[t.buffer].data = None


def _rewrite_subgraph(fb, model, subgraph) -> int:
    graph = _Graph(fb, model, subgraph)
    new_operators = []
    rewritten = 0
    for op in subgraph.operators:
        replacement = _block_conv(graph, op, rewritten) if graph.opcode(op) == fb.BuiltinOperator.CONV_2D else None
        if replacement is None:
            new_operators.append(op)
        else:
            new_operators.extend(replacement)
            rewritten += 1
    if rewritten:
        subgraph.operators = new_operators
        graph.drop_dead_operators()
    return rewritten


def _block_conv(graph: _Graph, op, serial: int):
    """The ops replacing one eligible CONV_2D (module doc), or None if it is not eligible."""
    fb = graph.fb
    options = op.builtinOptions
    inputs = [int(i) for i in op.inputs]
    if (
        options is None
        or options.padding != fb.Padding.VALID
        or (options.strideH, options.strideW) != (1, 1)
        or (options.dilationHFactor, options.dilationWFactor) != (1, 1)
        or len(op.outputs) != 1
        or len(inputs) < 2
    ):
        return None
    filters = graph.float_weights(inputs[1])
    if filters is None:
        return None
    kernel, as_float16 = filters  # TFLite conv filters are (C_out, kh, kw, C_in)
    c_out, kh, kw, c_in = kernel.shape
    if min(kh, kw) < MIN_KERNEL or kh % 2 == 0 or kw % 2 == 0:
        return None
    bias = None
    if len(inputs) > 2 and inputs[2] >= 0:
        found = graph.float_weights(inputs[2])
        if found is None:
            return None
        bias = found[0].reshape(c_out)
    x = graph.subgraph.tensors[inputs[0]]
    signature = x.shapeSignature if x.shapeSignature is not None and len(x.shapeSignature) else x.shape
    if len(signature) != 4 or int(signature[3]) != c_in:
        return None
    batch = int(signature[0])

    # One-hot 2x2 stride-2 filter: input pixel (a, b) of a block, channel c -> output channel (2a + b)·C_in + c,
    # the channel order of TFLite's SPACE_TO_DEPTH / DEPTH_TO_SPACE.
    one_hot = np.zeros((4 * c_in, 2, 2, c_in), np.float32)
    for a in range(2):
        for b in range(2):
            for c in range(c_in):
                one_hot[(2 * a + b) * c_in + c, a, b, c] = 1.0
    # Output pixel (2p + r, 2q + s) = sum over u, v of X[2p + r + u, 2q + s + v] · K[u, v]; with
    # r + u = 2m + a and s + v = 2n + b that is block (p + m, q + n), in-block pixel (a, b).
    mh, mw = kh // 2 + 1, kw // 2 + 1
    blocks = np.zeros((4 * c_out, mh, mw, 4 * c_in), np.float32)
    for r in range(2):
        for s in range(2):
            for a in range(2):
                for b in range(2):
                    for m in range(mh):
                        u = 2 * m + a - r
                        if not 0 <= u < kh:
                            continue
                        for n in range(mw):
                            v = 2 * n + b - s
                            if not 0 <= v < kw:
                                continue
                            out = slice((2 * r + s) * c_out, (2 * r + s + 1) * c_out)
                            inp = slice((2 * a + b) * c_in, (2 * a + b + 1) * c_in)
                            blocks[out, m, n, inp] = kernel[:, u, v, :]

    name = f"keras_style/space_to_depth_conv{serial}"
    ops = []
    one_hot_t, before = graph.add_constant(f"{name}/one_hot", one_hot, as_float16=False)
    ops += before
    zeros_t, before = graph.add_constant(f"{name}/zero_bias", np.zeros(4 * c_in, np.float32), as_float16=False)
    ops += before
    blocks_t, before = graph.add_constant(f"{name}/kernel", blocks, as_float16=as_float16)
    ops += before
    block_inputs = [blocks_t]
    if bias is not None:
        bias_t, before = graph.add_constant(f"{name}/bias", np.tile(bias, 4), as_float16=False)
        ops += before
        block_inputs.append(bias_t)
    else:
        bias_t, before = graph.add_constant(f"{name}/bias", np.zeros(4 * c_out, np.float32), as_float16=False)
        ops += before
        block_inputs.append(bias_t)

    dynamic = [batch, -1, -1]
    static = [max(batch, 1), 1, 1]
    pixels = graph.add_tensor(f"{name}/blocks", static + [4 * c_in], dynamic + [4 * c_in], fb.TensorType.FLOAT32)
    result = graph.add_tensor(f"{name}/block_result", static + [4 * c_out], dynamic + [4 * c_out],
                              fb.TensorType.FLOAT32)
    ops.append(graph.operator(fb.BuiltinOperator.CONV_2D, [inputs[0], one_hot_t, zeros_t], [pixels],
                              fb.BuiltinOptions.Conv2DOptions, graph.conv_options(2, fb.ActivationFunctionType.NONE)))
    ops.append(graph.operator(fb.BuiltinOperator.CONV_2D, [pixels] + block_inputs, [result],
                              fb.BuiltinOptions.Conv2DOptions,
                              graph.conv_options(1, options.fusedActivationFunction)))
    depth_to_space = fb.DepthToSpaceOptionsT()
    depth_to_space.blockSize = 2
    ops.append(graph.operator(fb.BuiltinOperator.DEPTH_TO_SPACE, [result], [int(op.outputs[0])],
                              fb.BuiltinOptions.DepthToSpaceOptions, depth_to_space))
    return ops
