"""Steady states of a continuous-batching engine, vectorised over layouts (array in, array out).

`Engine` binds one model, chip, weight and KV format; its methods take arrays of layouts (tp, pp, ep) and
workload numbers and return arrays. Scenarios:

* offline (all requests queued): the engine runs at its largest admissible batch
      B = min(KV tokens / reserve per request, max_batch, max_num_tokens / (1 + ISL/OSL))
  (reserve = ISL + OSL under TensorRT-LLM's no-evict policy; ISL + OSL/2 on average for on-demand blocks).
  Each iteration every sequence gains one token and B/OSL new requests prefill ISL tokens (chunked), so
      T_iter = iteration_time(n_dec = B, ctx = B*(ISL + OSL/2), n_pre = B*ISL/OSL, pairs = n_pre*ISL/2)
      output tokens/s per GPU = B / T_iter / gpus.
  With sliding-window layers the reserve, the contexts and the pairs are the windowed counts of
  `model.kv_tokens_held`, `model.mean_context` and `model.prefill_pairs`.
* fixed batch: B prompts prefilled in token-budget chunks, then OSL decode iterations at mean context.
* server (analytic, used by `serve plan`): the operating batch solves Little's law B = lambda * OSL *
  T_iter(B); TPOT = T_iter(B) at the median, with the prompts joining and the batch's wander at the
  99th percentile (`tpot_quantile`); TTFT = prefill iterations + admission queueing. A continuous-batching
  engine admits a request as soon as one of its `bmax` batch slots is free, so a load near the compute
  capacity shows as longer iterations, not as a queue; the admission wait is that of `bmax` servers
  (Erlang C, `slot_wait`), each request holding a slot for its prefill and decode iterations.
  `wanka.serve.server` simulates the same engine request by request and is what `serve predict`
  reports for the server and interactive scenarios.

Speculative decoding (`EngineDefaults.draft_tokens` k at acceptance a): each iteration verifies 1 + k
tokens per decoding sequence and each gains E = `tokens_per_step` tokens on average, so every "one
token per iteration" above becomes E: throughput B * E / T_iter, TPOT T_iter / E, B/OSL * E requests
finish per iteration, Little's law B = lambda * OSL * T_iter(B) / E.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.hardware import Accelerator
from wanka.perf.params import Calibration, default_calibration
from wanka.serve.model import (
    KV_FORMATS,
    Layouts,
    ModelShape,
    kv_bytes_per_token_per_gpu,
    kv_capacity_tokens,
    kv_tokens_held,
    mean_context,
    prefill_pairs,
    weight_format,
    weights_bytes_per_gpu,
)
from wanka.serve.params import EngineDefaults, ServeCalibration, default_serve_calibration
from wanka.serve.step import Rates, StepTimes, iteration_time, rates, shape_calibration

__all__ = [
    "Engine",
    "Steady",
    "elasticity",
    "lifetime_wander",
    "little_batch",
    "poisson_quantile",
    "queue_wait",
    "slot_wait",
]

F64 = NDArray[np.float64]
FIXED_POINT_STEPS = 12  # Little's-law iterations; T_iter(B) is flat enough that 12 settle to < 0.1%
ROOT_STEPS = 6  # regula-falsi steps of `little_batch` (benchmarks/bench_serve.py checks the result)


def queue_wait(service: Any, rho: Any, quantile: float) -> F64:
    """Waiting-time quantile of a queue with Poisson arrivals and deterministic service `service` at
    utilisation `rho`: Kingman's heavy-traffic tail P(W > t) ~ rho exp(-2 (1 - rho) t / s) (as for
    M/D/1), so t = s / (2 (1 - rho)) ln(rho / (1 - quantile)), zero when rho <= 1 - quantile. rho is
    capped at 0.999 (an overloaded queue reports a long, finite wait)."""
    r = np.clip(np.asarray(rho, dtype=np.float64), 0.0, 0.999)
    return service / (2.0 * (1.0 - r)) * np.log(np.maximum(r / (1.0 - quantile), 1.0))


def poisson_quantile(mean: Any, quantile: float) -> F64:
    """Smallest k with P(N <= k) >= quantile for N ~ Poisson(mean), elementwise: the CDF summed term
    by term (p_k = p_(k-1) mean / k) for means below 100, the normal approximation
    ceil(mean + z_q sqrt(mean)) above (its error there is under one count in ten)."""
    m = np.maximum(np.asarray(mean, dtype=np.float64), 0.0)
    small = m < 100.0
    ms = np.where(small, m, 0.0)
    k, p = np.zeros(m.shape), np.exp(-ms)
    cdf = p.copy()
    for j in range(1, 230):  # below a mean of 100, even the 99.99th percentile is under 150 counts
        short = small & (cdf < quantile)
        if not short.any():
            break
        k = np.where(short, float(j), k)
        p = p * ms / j
        cdf = np.where(short, cdf + p, cdf)
    z = NormalDist().inv_cdf(quantile)
    return np.where(small, k, np.ceil(m + z * np.sqrt(m)))


def slot_wait(hold: Any, slots: Any, load: Any, quantile: float) -> F64:
    """Waiting-time quantile for one of `slots` servers (M/M/c, Erlang C) at offered load `load`
    (= arrival rate x mean holding time `hold`, in busy servers). P(wait) = C(c, a) from Erlang B's
    recursion B_k = a B_{k-1} / (k + a B_{k-1}), C = c B / (c - a (1 - B)) (Kleinrock, Queueing
    Systems vol. 1, sec. 3.5); the wait of a waiting request is exponential with mean hold / (c - a),
    so t_q = hold / (c - a) ln(C / (1 - q)), zero when C <= 1 - q. A load of c or more is capped
    just below c (an overloaded pool reports a long, finite wait)."""
    c = np.maximum(np.asarray(slots, dtype=np.float64), 1.0)
    a = np.minimum(np.asarray(load, dtype=np.float64), 0.999 * c)
    c, a = np.broadcast_arrays(c, a)
    erlang_b = np.ones(c.shape)
    # slots far above the load never wait (C < 1e-12 beyond 8 standard deviations of a Poisson load)
    live = c - a < 8.0 * np.sqrt(np.maximum(a, 1.0)) + 8.0
    if live.any():
        cl, al, bl = c[live], a[live], erlang_b[live]
        for k in range(1, int(cl.max()) + 1):
            bl = np.where(k <= cl, al * bl / (k + al * bl), bl)
        erlang_b[live] = bl
    busy = np.where(live, c * erlang_b / (c - a * (1.0 - erlang_b)), 0.0)
    gap = np.maximum(c - a, 1e-12)
    return np.asarray(hold) / gap * np.log(np.maximum(busy / (1.0 - quantile), 1.0))


def elasticity(t_of: Callable[[Layouts, F64], F64], lay: Layouts, b: F64, t: F64) -> F64:
    """g = d ln T / d ln B at batch `b`, where `t_of(lay, batch)` is the iteration time and `t` its
    value at b: the secant over [0.8 b, b] (tile padding makes T a staircase), clipped to
    [0, 0.95]."""
    lo = np.maximum(0.8 * b, 1.0)
    return np.clip(np.log(t / t_of(lay, lo)) / np.log(b / lo + 1e-12), 0.0, 0.95)


def lifetime_wander(t: F64, b: F64, g: F64, quantile: float) -> F64:
    """How far a request's mean iteration lies above the mean one `t` at `quantile` because the
    running batch (mean `b`, elasticity `g`) wanders while it decodes. The batch is an
    Ornstein-Uhlenbeck process with variance b / (1 - g) and correlation time L / (1 - g) for a
    lifetime L (`Engine.batch_quantile`); its time average over L has variance
    var 2 (x - 1 + e^-x) / x^2, x = L / tau = 1 - g (variance of a time average, Papoulis and
    Pillai, Probability, Random Variables and Stochastic Processes, 4th ed., sec. 12-1), and each
    sequence adds g t / b to the iteration."""
    x = 1.0 - g
    var = b / x * 2.0 * (x - 1.0 + np.exp(-x)) / x**2
    return g * t / b * NormalDist().inv_cdf(quantile) * np.sqrt(var)


def little_batch(
    lay: Layouts,
    tokens_rate: Any,
    bmax: Any,
    t_of: Callable[[Layouts, F64], F64],
    t_top: Any = None,
) -> tuple[F64, F64]:
    """(batch, iteration seconds) where B = tokens_rate * T(B) (Little's law), per layout.

    `tokens_rate` = request rate x output tokens (each running sequence gains one token per
    iteration); `t_of(layouts, batch)` is the iteration time of `layouts` at `batch`; `t_top`, when
    known, is T at `bmax`. g(B) = clip(tokens_rate * T(B), 1, bmax) - B is >= 0 at B = 1 and, for a
    stable load, < 0 at bmax (else the batch sits at bmax). T(B) is close to linear in B (weights
    read once + per-token work), so regula falsi with the Illinois step (Dowell & Jarratt 1971)
    settles in ROOT_STEPS vectorised evaluations, where the plain iteration B <- tokens_rate * T(B)
    converges like (tokens_rate * dT/dB)^k: slowly near saturation. Tile padding makes T a staircase
    at small batches, where either method may stop on a neighbouring step.
    """
    rate = np.asarray(tokens_rate, dtype=np.float64)
    n = max(len(lay), rate.size)
    if len(lay) < n:  # one layout at many loads
        lay = lay.take(np.zeros(n, dtype=np.intp))
    top = np.maximum(np.broadcast_to(np.asarray(bmax, dtype=np.float64), (n,)), 1.0)
    rate = np.broadcast_to(rate, (n,))
    lo, hi = np.ones(n), top.copy()
    t_hi = np.broadcast_to(t_of(lay, hi) if t_top is None else t_top, (n,))
    g_lo = np.clip(rate * t_of(lay, lo), 1.0, top) - lo
    g_hi = np.clip(rate * t_hi, 1.0, top) - hi
    done = g_hi >= 0.0  # saturated: the batch sits at its cap
    x, t_x = hi.copy(), t_hi.copy()
    kept = np.zeros(n)  # +1: lo was kept by the last step, -1: hi was (Illinois bookkeeping)
    for _ in range(ROOT_STEPS):
        step = np.clip(lo - g_lo * (hi - lo) / np.minimum(g_hi - g_lo, -1e-300), lo, hi)
        x = np.where(done, top, step)
        t_x = np.where(done, t_hi, t_of(lay, x))
        g_x = np.clip(rate * t_x, 1.0, top) - x
        left = g_x < 0.0  # the root lies left of x: x becomes hi, lo is kept
        g_lo = np.where(left, np.where(kept > 0, 0.5 * g_lo, g_lo), g_x)
        g_hi = np.where(left, g_x, np.where(kept < 0, 0.5 * g_hi, g_hi))
        lo, hi = np.where(left, lo, x), np.where(left, x, hi)
        kept = np.where(left, 1.0, -1.0)
    return x, t_x


@dataclass(frozen=True, slots=True, kw_only=True)
class Steady:
    """A steady operating point per layout (arrays)."""

    fits: NDArray[np.bool_]
    batch: F64
    """Sequences in the running batch."""
    iter_s: F64
    output_tokens_per_s_per_gpu: F64
    ttft_p50_s: F64
    ttft_p99_s: F64
    tpot_s: F64
    """The mean iteration over the tokens it gives (the median request's TPOT)."""
    tpot_p99_s: F64
    """The 99th-percentile request's TPOT (`Engine.tpot_quantile`; `tpot_s` outside the server)."""
    times: StepTimes
    kv_tokens: F64
    """KV-cache tokens one instance holds."""
    kv_pool_bytes: F64
    """KV pool per GPU, bytes."""


class Engine:
    """One model on one chip in one weight/KV format; layouts and loads are arrays."""

    def __init__(
        self,
        shape: ModelShape,
        acc: Accelerator,
        precision: str,
        kv_precision: str,
        *,
        engine: EngineDefaults | None = None,
        scal: ServeCalibration | None = None,
        cal: Calibration | None = None,
        fabric: Any = None,
    ) -> None:
        self.s, self.acc = shape, acc
        self.wf, _, ratio = weight_format(precision, acc)
        self.kv_elem = KV_FORMATS[kv_precision]
        self.eng = engine or EngineDefaults()
        self.scal = scal or default_serve_calibration()
        self.cal = shape_calibration(acc, cal or default_calibration(), self.scal)
        self.fabric = fabric
        self.r: Rates = rates(acc, self.wf, ratio, self.cal, self.scal, shape.dq)
        self.e = self.eng.tokens_per_step  # tokens a decoding sequence gains per iteration

    # ------------------------------------------------------------------ memory
    def capacity(self, lay: Layouts) -> tuple[F64, F64]:
        """(KV tokens per instance, KV pool bytes per GPU)."""
        return kv_capacity_tokens(self.s, self.acc, self.wf, self.kv_elem, lay, self.eng)

    def weights_per_gpu(self, lay: Layouts) -> F64:
        return weights_bytes_per_gpu(self.s, self.wf, lay)

    def kv_per_token_layer(self, lay: Layouts) -> F64:
        """KV bytes one token adds per attention layer on the GPU holding it."""
        layers = np.ceil(self.s.attn_layers / lay.pp)
        return kv_bytes_per_token_per_gpu(self.s, self.kv_elem, lay.tpa, lay.pp) / layers

    # ------------------------------------------------------------------ iterations
    def step(self, lay: Layouts, **load: Any) -> StepTimes:
        """`iteration_time` for these layouts (see `wanka.serve.step`)."""
        return iteration_time(
            self.s, self.acc, self.wf, self.r, tp=lay.tp, pp=lay.pp, ep=lay.ep,
            attention_dp=lay.attention_dp,
            kv_bytes_per_token_layer=self.kv_per_token_layer(lay), scal=self.scal,
            cal=self.cal, fabric=self.fabric, draft_tokens=self.eng.draft_tokens, **load,
        )  # fmt: skip

    def mixed_step(
        self, lay: Layouts, batch: Any, isl: Any, osl: Any, prompts: Any = None
    ) -> StepTimes:
        """The steady continuous-batching iteration at `batch` decoding sequences; `prompts`: the
        prompts it prefills (default: as many as finish per iteration, B E / OSL), their tokens
        capped by the token budget left beside the decode rows."""
        b = np.asarray(batch, dtype=np.float64)
        isl, osl = np.asarray(isl, dtype=np.float64), np.asarray(osl, dtype=np.float64)
        done = b * self.e / osl  # requests finishing (and prompts starting) per iteration
        if prompts is not None:
            room = np.maximum(self.eng.max_num_tokens - b * self.eng.rows_per_sequence, 1.0)
            done = np.minimum(np.asarray(prompts, dtype=np.float64), room / isl)
        n_pre = done * isl
        return self.step(
            lay, n_dec=b, ctx_dec=b * mean_context(self.s, isl, osl), n_pre=n_pre,
            pre_pairs=n_pre * prefill_pairs(self.s, 0.0, isl) / isl,
            n_out=b * self.eng.rows_per_sequence + done,
        )  # fmt: skip

    def reserve_tokens(self, isl: Any, osl: Any) -> F64:
        isl, osl = np.asarray(isl, dtype=np.float64), np.asarray(osl, dtype=np.float64)
        if self.eng.no_evict:  # the whole request reserved at admission
            return kv_tokens_held(self.s, isl + osl)
        return mean_context(self.s, isl, osl)  # blocks grow with the answer: its mean footprint

    def max_batch(self, lay: Layouts, isl: Any, osl: Any) -> tuple[F64, F64, F64]:
        """(largest admissible batch, KV tokens, KV pool bytes) per layout."""
        kv_tokens, pool = self.capacity(lay)
        isl, osl = np.asarray(isl, dtype=np.float64), np.asarray(osl, dtype=np.float64)
        by_kv = np.floor(kv_tokens / self.reserve_tokens(isl, osl))
        per_seq = self.eng.rows_per_sequence + self.e * isl / osl  # tokens per iteration
        # one sequence is always admitted: chunked prefill spreads a prompt longer than the token
        # budget over several iterations (a 100,000-token prompt with 10 output tokens)
        by_tokens = np.maximum(np.floor(self.eng.max_num_tokens / per_seq), 1.0)
        b = np.minimum(np.minimum(by_kv, by_tokens), float(self.eng.max_batch))
        return np.maximum(b, 0.0), kv_tokens, pool

    def batch_quantile(
        self, lay: Layouts, b: F64, g: F64, bmax: F64, isl: Any, osl: Any, quantile: float
    ) -> tuple[F64, F64]:
        """(batch, iteration seconds) at the `quantile` of the running batch around its mean `b`.
        The batch is an infinite-server queue whose holding time OSL T(B) grows with the batch;
        linearised about b it is an Ornstein-Uhlenbeck process (arrivals and completions each
        Poisson at rate lambda, restoring rate (1 - g) / L for holding time L) with variance
        b / (1 - g), g the module's `elasticity` (the diffusion approximation of a state-dependent
        M/G/infinity queue, Whitt, Stochastic-Process Limits, 2002, ch. 10). Near compute
        saturation g approaches 1 and the batch wanders far from its mean, which a short simulated
        run does not see. The batch is capped at `bmax`."""
        z = NormalDist().inv_cdf(quantile)
        bq = np.minimum(b + z * np.sqrt(b / (1.0 - g)), np.maximum(bmax, 1.0))
        return bq, self.mixed_step(lay, bq, isl, osl).total_s

    def tpot_quantile(
        self, lay: Layouts, lam: F64, b: F64, t: F64, g: F64, isl: Any, osl: Any, quantile: float
    ) -> F64:
        """TPOT at `quantile`. A request's TPOT averages the n = OSL / E iterations it decodes
        through, each the mean one `t` but for two departures. (a) Prompts joining: those n
        iterations carry Poisson(n lambda t) prompts, each adding d (an iteration with one more
        prompt), so the average moves by d (k_q - n lambda t) / n. (b) The batch's wander
        (`batch_quantile`) averaged over the request's lifetime (`lifetime_wander`). The two are
        independent and add in quadrature."""
        n = np.asarray(osl, dtype=np.float64) / self.e
        k = n * lam * t
        one = self.mixed_step(lay, b, isl, osl, 1.0).total_s
        d = self.mixed_step(lay, b, isl, osl, 2.0).total_s - one
        dev_prompts = d * (poisson_quantile(k, quantile) - k) / n
        return (t + np.hypot(dev_prompts, lifetime_wander(t, b, g, quantile))) / self.e

    def prefill_iters(self, batch: F64, isl: Any) -> F64:
        """Iterations a prompt needs: chunks of the token budget left beside the decode tokens."""
        room = np.maximum(self.eng.max_num_tokens - batch * self.eng.rows_per_sequence, 1.0)
        return np.maximum(np.ceil(np.asarray(isl, dtype=np.float64) / room), 1.0)

    # ------------------------------------------------------------------ scenarios
    def offline(self, lay: Layouts, isl: Any, osl: Any, batch_cap: Any = None) -> Steady:
        """Max-throughput steady state (all requests queued)."""
        gpus = lay.gpus
        b, kv_tokens, pool = self.max_batch(lay, isl, osl)
        if batch_cap is not None:
            b = np.minimum(b, np.asarray(batch_cap, dtype=np.float64))
        fits = b >= 1.0
        bb = np.maximum(b, 1.0)
        t = self.mixed_step(lay, bb, isl, osl)
        thr = np.where(fits, bb * self.e / t.total_s / gpus, 0.0)
        ttft = self.prefill_iters(bb, isl) * t.total_s
        return Steady(
            fits=fits, batch=b, iter_s=t.total_s, output_tokens_per_s_per_gpu=thr,
            ttft_p50_s=ttft, ttft_p99_s=ttft, tpot_s=t.total_s / self.e,
            tpot_p99_s=t.total_s / self.e, times=t,
            kv_tokens=kv_tokens, kv_pool_bytes=pool,
        )  # fmt: skip

    def fixed_batch(self, lay: Layouts, batch: Any, isl: Any, osl: Any) -> Steady:
        """A static batch: prefill every prompt (budget-sized chunks), then OSL decode iterations."""
        gpus = lay.gpus
        b = np.broadcast_to(np.asarray(batch, dtype=np.float64), gpus.shape)
        isl, osl = np.asarray(isl, dtype=np.float64), np.asarray(osl, dtype=np.float64)
        kv_tokens, pool = self.capacity(lay)
        fits = b * kv_tokens_held(self.s, isl + osl) <= kv_tokens
        tokens = b * isl
        chunks = np.maximum(np.ceil(tokens / self.eng.max_num_tokens), 1.0)
        per = tokens / chunks
        t_pre = chunks * self.step(
            lay, n_dec=0.0, ctx_dec=0.0, n_pre=per,
            pre_pairs=per * prefill_pairs(self.s, 0.0, isl) / isl, n_out=b / chunks,
        ).total_s  # fmt: skip
        t = self.step(lay, n_dec=b, ctx_dec=b * mean_context(self.s, isl, osl))
        total = t_pre + osl / self.e * t.total_s
        thr = np.where(fits, b * osl / total / gpus, 0.0)
        return Steady(
            fits=fits, batch=b, iter_s=t.total_s, output_tokens_per_s_per_gpu=thr,
            ttft_p50_s=t_pre, ttft_p99_s=t_pre, tpot_s=t.total_s / self.e,
            tpot_p99_s=t.total_s / self.e, times=t,
            kv_tokens=kv_tokens, kv_pool_bytes=pool,
        )  # fmt: skip

    def server(
        self, lay: Layouts, rate: Any, isl: Any, osl: Any, *, solver: str = "root"
    ) -> Steady:
        """Analytic steady state at `rate` requests/s per instance (see the module docstring).

        `solver`: "root" solves Little's law by vectorised regula falsi (`little_batch`);
        "iterate" runs the plain fixed-point iteration (the reference; benchmarks compare the two).
        """
        gpus = lay.gpus
        lam = np.asarray(rate, dtype=np.float64)
        isl, osl = np.asarray(isl, dtype=np.float64), np.asarray(osl, dtype=np.float64)
        bmax, kv_tokens, pool = self.max_batch(lay, isl, osl)
        top = self.mixed_step(lay, np.maximum(bmax, 1.0), isl, osl)
        mu = np.maximum(bmax, 1.0) * self.e / (osl * top.total_s)  # requests/s at full batch
        rho = lam / np.maximum(mu, 1e-12)

        if solver == "iterate":
            per = osl / self.e  # iterations a request decodes for
            b = np.minimum(np.maximum(lam * per * top.total_s, 1.0), np.maximum(bmax, 1.0))
            for _ in range(FIXED_POINT_STEPS):  # fixed point of Little's law, B = lambda*OSL*T(B)/E
                b = np.clip(lam * per * self.mixed_step(lay, b, isl, osl).total_s, 1.0,
                            np.maximum(bmax, 1.0))  # fmt: skip
        else:
            b, _ = little_batch(
                lay, lam * osl / self.e, bmax,
                lambda sub, x: self.mixed_step(sub, x, isl, osl).total_s, t_top=top.total_s,
            )  # fmt: skip
        t = self.mixed_step(lay, b, isl, osl)
        stable = (rho < 1.0) & (bmax >= 1.0)
        iters = self.prefill_iters(b, isl)
        # a request holds its batch slot while it prefills and decodes
        hold = (iters + osl / self.e) * t.total_s
        slots = np.maximum(bmax, 1.0)
        wait_p50 = slot_wait(hold, slots, lam * hold, 0.5)
        wait_p99 = slot_wait(hold, slots, lam * hold, 0.99)
        # the iteration that prefills a prompt also prefills the others that arrived during the one
        # before it (Poisson, lam T): an iteration with prompts in it is longer than the mean one
        first50 = self.mixed_step(lay, b, isl, osl, 1.0 + poisson_quantile(lam * t.total_s, 0.5))
        g = elasticity(lambda sub, x: self.mixed_step(sub, x, isl, osl).total_s, lay, b, t.total_s)
        b99, t99 = self.batch_quantile(lay, b, g, bmax, isl, osl, 0.99)
        first99 = self.mixed_step(lay, b99, isl, osl, 1.0 + poisson_quantile(lam * t99, 0.99))
        # the wait for the iteration in progress: half a mean one at the median; at the 99th
        # percentile an arrival tends to land in a long, prompt-carrying iteration (length-biased
        # sampling), taken midway between the iteration at the 99th-percentile batch and the
        # 99th-percentile prompt one (checked against the simulation: tests/serve/test_server.py)
        ttft50 = 0.5 * t.total_s + (iters - 1.0) * t.total_s + first50.total_s + wait_p50
        ttft99 = 0.5 * (t99 + first99.total_s) + (iters - 1.0) * t99 + first99.total_s + wait_p99
        inf = np.inf
        return Steady(
            fits=bmax >= 1.0, batch=b, iter_s=t.total_s,
            output_tokens_per_s_per_gpu=np.where(stable, lam * osl / gpus, mu * osl / gpus),
            ttft_p50_s=np.where(stable, ttft50, inf), ttft_p99_s=np.where(stable, ttft99, inf),
            tpot_s=t.total_s / self.e,
            tpot_p99_s=self.tpot_quantile(lay, lam, b, t.total_s, g, isl, osl, 0.99), times=t,
            kv_tokens=kv_tokens, kv_pool_bytes=pool,
        )  # fmt: skip
