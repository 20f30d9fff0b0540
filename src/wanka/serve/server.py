"""Request-level discrete-event simulation of one serving instance (continuous batching).

Events on the simulator's kernel (`wanka.sim.kernel.Kernel`): iteration ends, then Poisson request
arrivals at equal times. At each iteration
start the scheduler admits waiting requests first-come-first-served while the batch has room
(`max_batch`) and the KV pool has room (no-evict: the request's input + output tokens are reserved at
admission, TensorRT-LLM's `GUARANTEED_NO_EVICT`; on-demand: admitted when the blocks of the context it
computes first are free, its blocks grow as it decodes and, when the pool runs out, the
latest-admitted running request is preempted: its blocks are freed and, readmitted, it recomputes its
prompt and the tokens it has generated, then goes on generating (vLLM V1 `Scheduler.schedule`,
num_computed_tokens = 0; TensorRT-LLM `MAX_UTILIZATION` pauses requests the same way). Its first
token, already sent, keeps its time: the recomputation shows in its TPOT). Decoding requests get one
token each; the token budget left (`max_num_tokens` minus the decode tokens) goes to prompt chunks in
admission order (chunked prefill).
With speculative decoding (k drafted tokens at acceptance a) each decoding request puts 1 + k tokens
through the pass and gains 1 + j of them, j the drafts accepted before the first rejection (drawn:
P(j >= i) = a^i), and the iteration adds the draft passes.
The iteration time comes from `StepTable`, an exact decomposition of `wanka.serve.step.iteration_time`:

    T = G[tokens] + H[output rows] + a_dec * sum(decode contexts) + a_pre * prefill pairs + overhead

TTFT = first-token time - arrival; TPOT = (last-token time - first-token time) / (output tokens - 1),
per request (MLPerf's definitions; TPOT as loadgen computes it, (latency - TTFT) / (tokens - 1),
mlcommons/inference issue 1777).

Steady state: the running batch fills over one request lifetime L = (prefill iterations + OSL) x T,
with T the analytic operating iteration (`Engine.server`), and a short run measured from t = 0 sees a
half-empty batch, so latencies come out low (a 1,000-request run of an OSL = 265 workload at 26
requests/s lasts 38 s, about one lifetime). The run therefore lasts WARM_LIFETIMES lifetimes of
warm-up, then a measured window of max(`requests` / rate, MEASURE_S, MEASURE_LIFETIMES lifetimes),
then one lifetime of further arrivals so the window's requests finish under load; only requests
arriving inside the window are counted. MEASURE_S is MLPerf Inference's shortest server run (10
minutes, `mlperf.conf` `*.Server.min_duration = 600000`), the span the measured p99s are judged
over: near compute saturation the running batch wanders far from its mean and back only slowly
(`Engine.batch_quantile`), so a window of a few lifetimes sees a p99 that a 10-minute run exceeds.
On Llama 2 70B fp8 on one H200 at 101 requests/s (MLPerf v4.1's H200 server row), 1,000 requests
gave a p99 TPOT of 111 ms and 8,000 (about 10 minutes) 143 ms; MLPerf measured 146 ms. The window
is shortened (not below MEASURE_LIFETIMES lifetimes) so a run adds at most MAX_ITERATIONS
iterations: a low rate of long requests (Llama 3.1 405B at 0.1 requests/s) would otherwise
simulate hours. A run whose queue holds OVERLOAD_SHARE of all arrivals stops there, saturated.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wanka.errors import SimulationError
from wanka.serve.engine import Engine
from wanka.serve.model import Layouts, ModelShape, kv_tokens_held, prefill_pairs
from wanka.sim.kernel import Kernel

__all__ = ["ServerResult", "StepTable", "simulate_closed_loop", "simulate_server"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
WARM_LIFETIMES = 2.0  # request lifetimes before the measured window (the batch fills in about one)
MEASURE_LIFETIMES = 2.0  # shortest measured window, in lifetimes
MEASURE_S = 600.0  # shortest measured window, seconds: MLPerf Inference's shortest server run
OVERLOAD_SHARE = 0.05  # a backlog of this share of the arrivals marks a run as saturated
MAX_ARRIVALS = 20_000  # cap on simulated arrivals (bounds the time of one simulation)
MAX_ITERATIONS = (
    60_000  # cap on the iterations the measured window may add (about 3 s of simulation)
)


def _run_plan(
    engine: Engine,
    lay: Layouts,
    rate: float,
    isl: float,
    osl: float,
    requests: int,
    window_s: float = MEASURE_S,
) -> tuple[int, float, float]:
    """(arrivals to simulate, start and end of the measured window in seconds); see the docstring."""
    sv = engine.server(lay, rate, isl, osl)
    t = float(sv.iter_s[0])
    life = (float(engine.prefill_iters(sv.batch, isl)[0]) + osl) * t
    warm = WARM_LIFETIMES * life
    # the window: `requests` arrivals, at least MEASURE_LIFETIMES lifetimes, and no more iterations
    # than MAX_ITERATIONS in all (a slow, long-output load would otherwise run millions)
    room = max(MAX_ITERATIONS * t - warm - life, MEASURE_LIFETIMES * life)
    window = max(min(max(requests / rate, window_s), room), MEASURE_LIFETIMES * life)
    n = int(np.ceil(rate * (warm + window + life)))
    if n > MAX_ARRIVALS:  # shrink every part alike
        f = MAX_ARRIVALS / n
        n, warm, window = MAX_ARRIVALS, warm * f, window * f
    return n, warm, warm + window


class StepTable:
    """Iteration time of one layout as lookup tables (built from the vectorised step model)."""

    def __init__(self, engine: Engine, lay: Layouts, max_tokens: int) -> None:
        assert len(lay) == 1, "a StepTable is for one layout"
        k = engine.eng.draft_tokens
        m = np.arange(max_tokens + k * engine.eng.max_batch + 1, dtype=np.float64)
        z = np.zeros_like(m)
        ovh = engine.scal.step_overhead_s * float(lay.pp[0])
        self.g = engine.step(lay, n_dec=z, ctx_dec=z, n_pre=m, pre_pairs=z, n_out=z).total_s - ovh
        self.h = engine.step(lay, n_dec=z, ctx_dec=z, n_pre=z, pre_pairs=z, n_out=m).total_s - ovh
        from wanka.serve.step import attention_coeffs

        a_dec, a_pre = attention_coeffs(
            engine.s, engine.r, lay.tp, lay.pp, lay.tpa, engine.kv_per_token_layer(lay), 1.0 + k
        )
        # speculative decoding's draft passes: by decoding sequences, plus per unit of their context
        b = np.arange(engine.eng.max_batch + 1, dtype=np.float64)
        self.d = engine.step(lay, n_dec=b, ctx_dec=np.zeros_like(b)).draft_s
        one = engine.step(lay, n_dec=np.ones(2), ctx_dec=np.array([0.0, 1.0])).draft_s
        self.a_dec = float(a_dec[0]) + float(one[1] - one[0])  # the verify pass's and the drafts'
        self.a_pre, self.overhead = float(a_pre[0]), ovh

    def time(
        self, tokens: int, out_rows: int, ctx_sum: float, pairs: float, n_dec: int = 0
    ) -> float:
        return float(
            self.g[tokens] + self.h[out_rows] + self.a_dec * ctx_sum + self.a_pre * pairs
            + self.d[n_dec] + self.overhead
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerResult:
    """Latency percentiles and throughput of one simulated instance."""

    ttft_s: F64
    """Per counted request."""
    tpot_s: F64
    completed: int
    arrivals: int
    """Requests simulated (warm-up and tail included)."""
    duration_s: float
    output_tokens_per_s: float
    preemptions: int
    mean_batch: float
    saturated: bool
    """Arrivals outpaced service: more than OVERLOAD_SHARE of the requests waited at once (the run
    stops there) or were still waiting when the last one arrived (a stable queue stays short; an
    overloaded one grows with every arrival)."""

    def pct(self, which: str, q: float) -> float:
        x = self.ttft_s if which == "ttft" else self.tpot_s
        return float(np.percentile(x, q)) if x.size else float("inf")


class _Instance:
    """Mutable state of the simulated engine; only the event handlers change it.

    `isl`, `osl`: each request's input and output tokens (arrays, one entry per request). KV is
    counted in tokens of every attention layer (`model.kv_tokens_held`: sliding-window layers keep
    their window only).
    """

    def __init__(
        self,
        table: StepTable,
        eng,
        shape: ModelShape,
        kv_tokens: float,
        isl: I64,
        osl: I64,
        seed: int = 0,
        prefilled: bool = False,
    ) -> None:
        n = isl.size
        self.prefilled = (
            prefilled  # a decode instance: prompts arrive prefilled, KV and first token
        )
        self.rows = eng.rows_per_sequence
        self.rng = np.random.default_rng([seed, 2])  # accepted drafts
        self.t, self.eng, self.s, self.kv_cap = table, eng, shape, kv_tokens
        self.isl, self.osl = isl, osl
        self.reserve = kv_tokens_held(shape, isl + osl)  # a whole request's KV (no-evict)
        self.windowed = bool(shape.slide_frac)
        self.arrival = np.zeros(n)
        self.first = np.full(n, np.nan)
        self.last = np.full(n, np.nan)
        self.done_pre = np.zeros(n, dtype=np.int64)
        # context tokens to compute before the next token: the prompt, or after a preemption the
        # prompt and the tokens generated so far (recompute)
        self.need = isl.astype(np.int64).copy()
        self.gen = np.zeros(n, dtype=np.int64)
        self.waiting: deque[int] = deque()
        self.running: I64 = np.zeros(0, dtype=np.int64)  # admission order (the newest last)
        self.kv_used = 0.0
        self.busy = False
        self.preemptions = 0
        self.iters = 0
        self.batch_sum = 0

    def held(self, i: Any) -> Any:
        """KV tokens request(s) i hold: no-evict, the full reservation; on demand, the context
        computed so far (a prompt being recomputed after a preemption counts its own progress)."""
        if self.eng.no_evict:
            return self.reserve[i]
        return kv_tokens_held(self.s, self.done_pre[i] + self.gen[i] + self.isl[i] - self.need[i])

    def admit(self) -> None:
        """Admit waiting requests first-come-first-served while a batch slot and the KV they need
        are free: no-evict, the whole request's; on demand, the context it computes first (vLLM
        admits a waiting request only when `allocate_slots` finds blocks for its tokens)."""
        new: list[int] = []
        if not self.eng.no_evict and self.waiting:  # on demand: what the running hold now
            self.kv_used = float(np.sum(self.held(self.running)))
        while self.waiting and len(self.running) + len(new) < self.eng.max_batch:
            i = self.waiting[0]
            if self.eng.no_evict:
                need = float(self.reserve[i])
            else:
                need = float(kv_tokens_held(self.s, self.need[i] + int(self.prefilled)))
            if self.kv_used + need > self.kv_cap and (len(self.running) or new):
                break
            self.waiting.popleft()
            self.kv_used += need
            if self.prefilled and self.gen[i] == 0:  # its KV and first token arrived with it
                self.done_pre[i], self.gen[i] = self.isl[i], 1
                self.first[i] = self.arrival[i]
                if self.osl[i] <= 1:
                    self.last[i] = self.first[i]
                    self.kv_used -= need
                    continue
            new.append(i)
        if new:
            self.running = np.concatenate([self.running, np.asarray(new, dtype=np.int64)])

    def plan(self) -> tuple[float, list[tuple[int, int]], NDArray[np.int64]]:
        """Compose one iteration: (seconds, prefill chunks (request, tokens), decoding requests)."""
        run = self.running
        is_dec = self.done_pre[run] >= self.need[run]
        dec = run[is_dec]
        budget = self.eng.max_num_tokens - int(dec.size) * self.rows
        chunks: list[tuple[int, int]] = []
        pairs = 0.0
        out_rows = int(dec.size) * self.rows
        for i in run[~is_dec].tolist():
            if budget <= 0:
                break
            done, need = int(self.done_pre[i]), int(self.need[i])
            c = min(need - done, budget)
            chunks.append((i, c))
            pairs += (
                float(prefill_pairs(self.s, done, c)) if self.windowed else c * (done + c / 2.0)
            )
            budget -= c
            out_rows += int(done + c >= need)
        if self.windowed:  # keys each decode step reads, per attention layer
            ctx = float(kv_tokens_held(self.s, self.isl[dec] + self.gen[dec]).sum())
        else:
            ctx = float(self.isl[dec].sum() + self.gen[dec].sum())
        tokens = int(dec.size) * self.rows + sum(c for _, c in chunks)
        return self.t.time(tokens, out_rows, ctx, pairs, int(dec.size)), chunks, dec

    def grow_or_preempt(self, dec: NDArray[np.int64]) -> NDArray[np.int64]:
        """On-demand KV: each decode token takes a slot; preempt the newest when the pool is full."""
        if self.eng.no_evict:
            return dec
        self.kv_used = float(np.sum(self.held(self.running)))
        while self.kv_used + dec.size * self.rows > self.kv_cap and len(self.running) > 1:
            victim = int(self.running[-1])
            self.running = self.running[:-1]
            self.kv_used -= float(self.held(victim))
            # its KV is freed; its tokens so far (already streamed) are kept and recomputed with
            # the prompt when it is readmitted (vLLM `Scheduler.schedule`: num_computed_tokens = 0)
            self.need[victim] = self.isl[victim] + self.gen[victim]
            self.done_pre[victim] = 0
            self.waiting.appendleft(victim)
            self.preemptions += 1
            dec = dec[dec != victim]
        return dec

    def accepted(self, n: int) -> I64 | int:
        """Tokens each of n decoding sequences gains: 1, or with k drafted tokens 1 + the drafts
        accepted before the first rejection, each with probability a (P(at least j) = a^j)."""
        k, a = self.eng.draft_tokens, self.eng.draft_acceptance
        if k == 0 or n == 0:
            return 1
        if a >= 1.0:
            return 1 + k
        u = self.rng.random(n)
        return 1 + np.minimum(np.floor(np.log(np.maximum(u, 1e-300)) / np.log(a)), k).astype(
            np.int64
        )

    def finish_iteration(self, now: float, chunks: list[tuple[int, int]], dec: I64) -> int:
        """Apply one iteration's tokens: decode steps, prompt chunks, first tokens, completions;
        returns the number of requests completed."""
        self.gen[dec] = np.minimum(self.gen[dec] + self.accepted(dec.size), self.osl[dec])
        self.last[dec[self.gen[dec] >= self.osl[dec]]] = now
        for i, c in chunks:
            self.done_pre[i] += c
            if self.done_pre[i] < self.need[i]:
                continue
            if self.gen[i] == 0:  # the prompt's last chunk emits the first token
                self.first[i] = now
            self.gen[i] += 1  # (a recomputed context emits the next one)
            if self.gen[i] >= self.osl[i]:
                self.last[i] = now
        run = self.running
        fin = self.gen[run] >= self.osl[run]
        if fin.any():
            self.running = run[~fin]
            if self.eng.no_evict:
                self.kv_used -= float(self.reserve[run[fin]].sum())
        return int(fin.sum())


def _start_iteration(st: _Instance, q: Kernel, now: float, end_kind: int) -> None:
    """Admit what fits, compose the next iteration and schedule its end (or go idle)."""
    st.admit()
    if len(st.running) == 0:
        st.busy = False
        return
    st.busy = True
    dt, chunks, dec = st.plan()
    dec = st.grow_or_preempt(dec)
    st.iters += 1
    st.batch_sum += len(st.running)
    q.schedule(now + dt, end_kind, (chunks, dec))


def _instance(
    engine: Engine,
    lay: Layouts,
    table: StepTable | None,
    lengths: tuple[I64, I64],
    seed: int = 0,
    prefilled: bool = False,
) -> _Instance:
    """A fresh engine state for requests of these (input, output) lengths; one request that cannot
    fit the KV cache at all is an error."""
    eng = engine.eng
    kv_tokens = float(engine.capacity(lay)[0][0])
    isl_r, osl_r = lengths
    if kv_tokens < float(kv_tokens_held(engine.s, isl_r + (osl_r if eng.no_evict else 1)).max()):
        raise SimulationError("one request does not fit the KV cache of this layout")
    table = table or StepTable(engine, lay, eng.max_num_tokens)
    return _Instance(table, eng, engine.s, kv_tokens, isl_r, osl_r, seed, prefilled)


def _request_lengths(
    isl: float, osl: float, n: int, lengths: tuple[I64, I64] | None, seed: int
) -> tuple[I64, I64]:
    """Per-request (input, output) tokens: the means for all, or draws from a length sample."""
    if lengths is None:
        return np.full(n, max(round(isl), 1)), np.full(n, max(round(osl), 1))
    pick = np.random.default_rng([seed, 1]).integers(0, lengths[0].size, size=n)
    return lengths[0][pick].astype(np.int64), lengths[1][pick].astype(np.int64)


END, ARRIVE = 0, 1  # event kinds; an iteration end runs before an arrival at the same time


def _drive(
    st: _Instance,
    q: Kernel,
    n: int,
    *,
    on_done: Callable[[float, int], None] | None = None,
    on_arrive: Callable[[int], None] | None = None,
    until: Callable[[], bool] | None = None,
) -> None:
    """Run the engine's event loop on `q` until it empties (or `until()` holds): ARRIVE(i) queues
    request i, END applies an iteration and starts the next. `on_done(now, completed)` follows each
    iteration (a closed loop sends new requests there); `on_arrive(i)` follows each arrival."""

    def start(now: float) -> None:
        _start_iteration(st, q, now, END)

    def end(payload: tuple[list[tuple[int, int]], I64]) -> None:
        completed = st.finish_iteration(q.now, *payload)
        if on_done is not None:
            on_done(q.now, completed)
        start(q.now)

    def arrive(i: int) -> None:
        st.waiting.append(i)
        if on_arrive is not None:
            on_arrive(i)
        if not st.busy:
            start(q.now)

    q.run([end, arrive], instant_limit=n + 2, until=until)


def simulate_server(
    engine: Engine,
    lay: Layouts,
    *,
    rate: float,
    isl: float,
    osl: float,
    requests: int = 2000,
    seed: int = 0,
    table: StepTable | None = None,
    lengths: tuple[I64, I64] | None = None,
    window_s: float = MEASURE_S,
    prefilled: bool = False,
) -> ServerResult:
    """Simulate one instance under Poisson arrivals at `rate` requests/s.

    `prefilled`: a disaggregated decode instance. Requests arrive with their prompt's KV cache and
    first token (sent by a prefill instance) and only decode; TTFT is then zero and TPOT counts from
    the arrival. A prefill instance is the default engine with an output length of 1.

    `requests` and `window_s`: the measured window holds at least `requests` arrivals and lasts at
    least `window_s` seconds (see the module docstring).
    `lengths`: (input, output) token arrays each request draws its pair from (a dataset's sample,
    `serve.lengths.request_lengths`); None: every request at the mean lengths `isl`, `osl`.
    """
    if rate <= 0 or not np.isfinite(rate):
        raise SimulationError(f"the server simulation needs a positive finite rate, got {rate}")
    requests, t_from, t_to = _run_plan(engine, lay, rate, isl, osl, requests, window_s)
    st = _instance(engine, lay, table, _request_lengths(isl, osl, requests, lengths, seed), seed,
                   prefilled)  # fmt: skip
    rng = np.random.default_rng(seed)
    st.arrival = np.cumsum(rng.exponential(1.0 / rate, size=requests))
    q = Kernel()
    for i in range(requests):
        q.schedule(float(st.arrival[i]), ARRIVE, i)
    backlog = [0]

    def last_arrival(i: int) -> None:
        if i == requests - 1:
            backlog[0] = len(st.waiting)

    # an overloaded run is cut short once its queue holds OVERLOAD_SHARE of all arrivals (it would
    # count as saturated at the end anyway, and preempted work recomputing would make it slow)
    limit = max(OVERLOAD_SHARE * requests, 1.0)
    _drive(st, q, requests, on_arrive=last_arrival, until=lambda: len(st.waiting) > limit)
    return _result(st, t_from, t_to, backlog[0])


def simulate_closed_loop(
    engine: Engine,
    lay: Layouts,
    *,
    concurrency: int,
    isl: float,
    osl: float,
    requests: int = 2000,
    seed: int = 0,
    table: StepTable | None = None,
    lengths: tuple[I64, I64] | None = None,
) -> ServerResult:
    """Simulate one instance under `concurrency` closed-loop clients (no think time): every client
    keeps one request in flight and sends the next the moment one completes (trtllm-bench
    `--concurrency`, vLLM `benchmark_serving --max-concurrency`).

    The first 2 x concurrency requests (the initial burst and the one after it, while the batch settles
    into its steady mix of prefill and decode) and the last `concurrency` (sent while clients stop) are
    not counted. Throughput is Little's law for the closed system, concurrency / mean latency requests/s,
    times the counted requests' mean output length.
    """
    if concurrency < 1:
        raise SimulationError(
            f"the closed-loop simulation needs concurrency >= 1, got {concurrency}"
        )
    n = min(max(requests + 3 * concurrency, 5 * concurrency), MAX_ARRIVALS)
    st = _instance(engine, lay, table, _request_lengths(isl, osl, n, lengths, seed), seed)
    st.arrival = np.full(n, np.nan)
    q = Kernel()
    sent = [0]

    def send(now: float, k: int) -> None:
        for i in range(sent[0], min(sent[0] + k, n)):
            st.arrival[i] = now
            q.schedule(now, ARRIVE, i)
        sent[0] = min(sent[0] + k, n)

    send(0.0, concurrency)
    _drive(st, q, n, on_done=send)
    return _closed_result(st, concurrency)


def _closed_result(st: _Instance, concurrency: int) -> ServerResult:
    """Latencies of the counted requests (see `simulate_closed_loop`) and Little's-law throughput."""
    n = st.arrival.size
    idx = np.arange(n)
    done = ~np.isnan(st.last)
    counted = done & (idx >= 2 * concurrency) & (idx < n - concurrency)
    if not counted.any():
        counted = done
    multi = counted & (st.osl > 1)
    e2e = (st.last - st.arrival)[counted]
    per_s = concurrency / float(e2e.mean()) if e2e.size and e2e.mean() > 0 else 0.0
    return ServerResult(
        ttft_s=(st.first - st.arrival)[counted],
        tpot_s=((st.last - st.first) / np.maximum(st.osl - 1, 1))[multi],
        completed=int(done.sum()), arrivals=n,
        duration_s=float(np.nanmax(st.last)) if done.any() else float("inf"),
        output_tokens_per_s=per_s * float(st.osl[counted].mean()) if counted.any() else 0.0,
        preemptions=st.preemptions, mean_batch=st.batch_sum / max(st.iters, 1), saturated=False,
    )  # fmt: skip


def _result(st: _Instance, t_from: float, t_to: float, backlog: int) -> ServerResult:
    """Latencies of the requests arriving inside the measured window; throughput of the whole run.

    TPOT counts requests of two or more output tokens (loadgen divides by tokens - 1).
    """
    n = st.arrival.size
    done = ~np.isnan(st.last)
    counted = done & (st.arrival >= t_from) & (st.arrival <= t_to)
    multi = counted & (st.osl > 1)
    ttft = (st.first - st.arrival)[counted]
    tpot = ((st.last - st.first) / np.maximum(st.osl - 1, 1))[multi]
    span = float(np.nanmax(st.last) - st.arrival[0]) if done.any() else float("inf")
    return ServerResult(
        ttft_s=ttft, tpot_s=tpot, completed=int(done.sum()), arrivals=n, duration_s=span,
        output_tokens_per_s=float(st.osl[done].sum()) / span if done.any() else 0.0,
        preemptions=st.preemptions, mean_batch=st.batch_sum / max(st.iters, 1),
        saturated=bool(done.sum() < n or backlog > OVERLOAD_SHARE * n),
    )  # fmt: skip
