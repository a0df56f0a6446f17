"""Graph fusion with onnxruntime's transformers optimizer, kept only when it helps.

The fused graph (Attention, SkipLayerNormalization, BiasGelu, ...) must agree with PyTorch
and be faster than the plain one on the check texts, timed under the same machine load;
otherwise the plain graph stays and the report says why.
"""

from __future__ import annotations

import contextlib
import tempfile
import warnings
from pathlib import Path
from typing import Any

from .job import ExportJob

FP32, OPT = "model.onnx", "model.opt.onnx"
#: An optimized graph that moves a probability by more than this is wrong, not "fused".
OPT_TOLERANCE = 1e-3
#: The optimized graph is kept only when it is at least this much faster than the plain one.
MIN_SPEEDUP = 1.03


def optimize_graph(src: Path, dest: Path, *, num_heads: int, hidden_size: int) -> dict[str, Any]:
    """Fuse attention, LayerNorm and GELU with onnxruntime's transformers optimizer.

    ``opt_level=1`` only applies hardware-independent rewrites before the Python fusions; the
    saved graph runs on any CPU, and ONNX Runtime adds its hardware-specific passes at load.
    """
    from onnxruntime.transformers.optimizer import optimize_model

    src_abs = Path(src).resolve()
    # When its symbolic shape inference gives up, onnxruntime saves the half-inferred graph
    # (``sym_shape_infer_temp.onnx`` plus a weights file) into the working directory: run it
    # in a scratch folder so nothing lands in the user's folder or a repository.
    with (warnings.catch_warnings(), tempfile.TemporaryDirectory(prefix="emotag-opt-") as scratch,
          contextlib.chdir(scratch)):
        warnings.simplefilter("ignore")
        opt = optimize_model(str(src_abs), model_type="bert", num_heads=num_heads,
                             hidden_size=hidden_size, opt_level=1, use_gpu=False)
    fused = {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}
    opt.save_model_to_file(str(dest))
    return {"opt_level": 1, "fused_ops": fused}


def optimize_stage(job: ExportJob, hf_config: Any, *, min_speedup: float | None = None
                   ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Try the fused graph; keep it only when it agrees with PyTorch and is faster
    (``min_speedup``, default :data:`MIN_SPEEDUP`; 0 keeps any graph that agrees).

    Returns the optimizer's report entry and the kept model's entry (None when not kept).
    """
    min_speedup = MIN_SPEEDUP if min_speedup is None else min_speedup
    info: dict[str, Any] = {"used": False}
    try:
        tmp = job.temp(OPT)
        info.update(optimize_graph(job.output_dir / FP32, tmp,
                                   num_heads=int(hf_config.num_attention_heads),
                                   hidden_size=int(hf_config.hidden_size)))
        opt_path = job.publish(tmp, OPT, "fp32")
        fused = job.check(opt_path, repeats=3)
        # the plain graph is timed again right after, under the same machine load
        plain_s = job.check(job.output_dir / FP32, repeats=3)["check_s"]
        speedup = plain_s / fused["check_s"] if fused["check_s"] > 0 else float("inf")
        info.update(plain_s=plain_s, optimized_s=fused["check_s"], speedup=round(speedup, 3))
        if fused["max_abs_diff"] > OPT_TOLERANCE:
            info["reason"] = (f"fused graph differs from PyTorch by "
                              f"{fused['max_abs_diff']:.2e} > {OPT_TOLERANCE}")
        elif speedup < min_speedup:
            info["reason"] = (f"not faster ({speedup:.2f}x on {len(job.check_texts)} texts); "
                              "the plain graph is kept")
        else:
            info.update(used=True, reason=f"{speedup:.2f}x faster on "
                        f"{len(job.check_texts)} texts")
            return info, {"file": OPT, **fused}
    except Exception as e:  # the optimizer is best effort; the plain graph stays
        info["reason"] = f"optimizer failed: {type(e).__name__}: {e}"
    (job.output_dir / OPT).unlink(missing_ok=True)
    return info, None
