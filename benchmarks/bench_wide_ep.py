"""Wide expert parallelism against SGLang's published DeepSeek-V3 deployment (a check, not a fit).

    python benchmarks/bench_wide_ep.py

SGLang, "Deploying DeepSeek with PD Disaggregation and Large-scale Expert Parallelism on 96 H100
GPUs" (LMSYS blog, 2025-05-05): EP32 prefill instances on 4 H100 nodes reach 50,302 input tokens/s
per node on 4,096-token prompts; EP72 decode instances on 9 nodes reach 22,282 output tokens/s per
node on 2,000-token prompts. The model's figures: one prefill iteration of 1,024 prompt tokens per GPU
(the EP32 instance), and one decode iteration of 128 sequences per GPU at 2,000 + 50 tokens of context
(the EP72 instance), both from `Engine.step`, fp8 weights, bf16 MLA cache. Neither figure entered any
fit (no public validation row spans two scale-up domains).
"""

from __future__ import annotations

from wanka.serve.engine import Engine
from wanka.serve.model import Layouts, model_shape
from wanka.serve.spec import parse_serve_spec

PUBLISHED = {"prefill EP32": 50302.0 / 8, "decode EP72": 22282.0 / 8}  # tokens/s per GPU


def _engine(count: int) -> Engine:
    spec = parse_serve_spec({
        "model": "deepseek-v3", "hardware": {"accelerator": "h100-sxm", "count": count},
        "serving": {"framework": "SGLang", "precision": "fp8", "kv_precision": "bf16"},
        "workload": {"input_len": 2000, "output_len": 100},
    })  # fmt: skip
    return Engine(model_shape(spec.model), spec.accelerator, spec.precision, spec.kv_precision,
                  engine=spec.engine)  # fmt: skip


def main() -> None:
    pre = _engine(32)
    n = 1024.0 * 32
    t = pre.step(Layouts.of(32, 1, 32, True), n_dec=0.0, ctx_dec=0.0, n_pre=n,
                 pre_pairs=n * 4096 / 2.0, n_out=n / 4096)  # fmt: skip
    dec = _engine(72)
    b = 128.0 * 72
    u = dec.step(Layouts.of(72, 1, 72, True), n_dec=b, ctx_dec=b * 2050.0)
    got = {"prefill EP32": n / t.total_s[0] / 32, "decode EP72": b / u.total_s[0] / 72}
    parts = {"prefill EP32": t, "decode EP72": u}
    for k, v in got.items():
        p = parts[k]
        print(f"{k}: {v:,.0f} tokens/s/GPU predicted, {PUBLISHED[k]:,.0f} published "
              f"({v / PUBLISHED[k] - 1:+.1%}); iteration {p.total_s[0] * 1e3:.1f} ms, exposed "
              f"all-to-all {p.comm_s[0] * 1e3:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
