"""A transformer run whose fp32 weights are an int8 ONNX model's, dequantized.

Used to re-export a shipped int8 model with another quantization while keeping its exact
int8 weights: every quantized weight becomes ``(q - zero_point) * scale`` (per output
channel), the other initializers are copied, and the result is written into a copy of a
reference run of the same architecture (its ``transformer/`` Hugging Face folder and run
files). Names are matched through the reference run's traced fp32 graph (``emotag export``
output): ONNX initializer ``model.X`` is parameter ``X``; an anonymous MatMul weight belongs
to the Linear named by its node (``/model/bert/.../query/MatMul`` -> ``bert....query.weight``,
transposed). Re-quantizing per channel gives back the same int8 tensors.

    python scripts/dequantize_int8_model.py /tmp/old_default_model/onnx/model.int8.onnx \
        --reference runs/student-l3 --output /tmp/run_from_int8
    scripts/make_default_model.sh /tmp/run_from_int8 student-l3
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from safetensors.numpy import load_file, save_file


def dequantized(initializers: dict[str, np.ndarray], name: str) -> np.ndarray:
    """The fp32 value of ``name`` in the int8 graph (copied, or dequantized)."""
    if name in initializers:
        return initializers[name].astype(np.float32)
    for base in (name, f"{name}_Transposed"):
        if f"{base}_quantized" in initializers:
            q = initializers[f"{base}_quantized"].astype(np.float32)
            w = (q - initializers[f"{base}_zero_point"]) * initializers[f"{base}_scale"]
            return w.T if base.endswith("_Transposed") else w
    raise KeyError(f"{name}: neither a float nor a quantized initializer in the int8 model")


def parameter_names(reference_graph: onnx.ModelProto) -> dict[str, tuple[str, bool]]:
    """ONNX initializer name -> (Hugging Face parameter name, stored transposed)."""
    out = {}
    for node in reference_graph.graph.node:
        for name in node.input:
            if name.startswith("model."):
                out[name] = (name[len("model."):], False)
            elif name.startswith("onnx::MatMul") and node.op_type == "MatMul":
                layer = node.name[len("/model/"):].replace("/", ".").rsplit(".MatMul", 1)[0]
                out[name] = (f"{layer}.weight", True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("int8_onnx", type=Path)
    ap.add_argument("--reference", type=Path, required=True,
                    help="a run of the same architecture, exported (RUN/onnx-export/model.onnx)")
    ap.add_argument("--output", type=Path, required=True)
    a = ap.parse_args()
    ref_graph = onnx.load(str(a.reference / "onnx-export" / "model.onnx"))
    int8 = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(a.int8_onnx)).graph.initializer}
    state = load_file(str(a.reference / "transformer" / "model.safetensors"))
    replaced = set()
    for onnx_name, (hf_name, transposed) in parameter_names(ref_graph).items():
        w = dequantized(int8, onnx_name)
        w = w.T if transposed else w
        if hf_name not in state or state[hf_name].shape != w.shape:
            raise SystemExit(f"{hf_name}: not in the reference run with shape {w.shape}")
        state[hf_name] = np.ascontiguousarray(w.astype(state[hf_name].dtype))
        replaced.add(hf_name)
    kept = sorted(set(state) - replaced)
    print(f"{len(replaced)} parameters from {a.int8_onnx}; unused by the graph, kept: {kept}")
    a.output.mkdir(parents=True, exist_ok=True)
    for path in a.reference.iterdir():  # run files: manifest, thresholds, config, run log
        if path.is_file():
            shutil.copy(path, a.output / path.name)
    shutil.copytree(a.reference / "transformer", a.output / "transformer", dirs_exist_ok=True)
    save_file(state, str(a.output / "transformer" / "model.safetensors"),
              metadata={"format": "pt"})


if __name__ == "__main__":
    main()
