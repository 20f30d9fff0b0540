"""Run many independent tasks on local processes or Ray, and stop cleanly on Ctrl-C.

`sweep` and `simulate --ray` use these two functions. Each returns the results finished so far with
an `interrupted` flag instead of raising on Ctrl-C: the caller keeps the finished rows, and
every worker this module started is stopped before it returns (pending Ray tasks are cancelled and
a Ray it started is shut down, and any of its processes still alive a few seconds later are
killed; local worker processes are terminated).

Ray waits in short slices (`_POLL_S`) so that the interpreter sees SIGINT within a second: a bare
`ray.get`/`ray.wait` blocks in C++ and lets Ctrl-C wait for the whole run.

Layer: imports only `errors`.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from wanka.errors import ConfigError, WankaError

__all__ = ["Finished", "process_map", "ray_map"]

_POLL_S = 0.5  # how long one wait may block before Python gets to handle a pending Ctrl-C


@dataclass(slots=True)
class Finished:
    """Results by task index (only those that finished), and whether Ctrl-C stopped the run."""

    results: dict[int, Any] = field(default_factory=dict)
    interrupted: bool = False

    def in_order(self) -> list[Any]:
        return [self.results[i] for i in sorted(self.results)]


def process_map(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> Finished:
    """`fn` over `items` on `workers` local processes (in this process when `workers` is 1)."""
    out, n = Finished(), len(items)
    try:
        if workers <= 1:
            for i, item in enumerate(items):
                out.results[i] = fn(item)
                if progress:
                    progress(len(out.results), n)
            return out
        ex = ProcessPoolExecutor(max_workers=workers)
        try:
            index = {ex.submit(fn, item): i for i, item in enumerate(items)}
            pending = set(index)
            while pending:
                done, pending = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
                for f in done:
                    out.results[index[f]] = f.result()
                    if progress:
                        progress(len(out.results), n)
        except KeyboardInterrupt:
            _stop_pool(ex)
            raise
        ex.shutdown(wait=True)
    except KeyboardInterrupt:
        out.interrupted = True
    return out


def _stop_pool(ex: ProcessPoolExecutor) -> None:
    """Cancel queued tasks and terminate the worker processes (a running search is not waited for)."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)
    # let the pool's manager thread see the dead workers and close its wake-up pipe now: CPython
    # 3.11's exit hook (`concurrent.futures.process._python_exit`) writes to that pipe after an
    # unlocked "closed?" check, so a thread still closing it then printed "OSError: Bad file
    # descriptor" with a traceback after the one-line interrupt message
    manager = getattr(ex, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(timeout=5)


def ray_map(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Finished:
    """`fn` over `items` as Ray tasks; a local Ray (started and shut down here) unless `address`.

    A task that raises a WankaError re-raises it here as the same one-line error.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--ray needs Ray, which is not installed: pip install 'wanka[ray]'"
        ) from None
    started = not ray.is_initialized()
    address = address or os.environ.get("RAY_ADDRESS") or None  # Ray's own variable, honoured
    out, n = Finished(), len(items)
    before = set(_descendants(os.getpid())) if started else set()
    try:
        if started:
            kw: dict[str, Any] = (
                {"address": address}
                if address
                else {
                    "num_cpus": num_cpus or os.cpu_count() or 1,
                    "include_dashboard": False,
                }
            )
            with _sigint_deferred():  # a Ctrl-C inside ray.init orphans the node's agents
                _ray_init(ray, address, kw)
        task = ray.remote(fn)
        index = {task.remote(item): i for i, item in enumerate(items)}
        pending = list(index)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=_POLL_S)
                for ref in ready:
                    out.results[index[ref]] = _get(ray, ref)
                    if progress:
                        progress(len(out.results), n)
        except KeyboardInterrupt:
            out.interrupted = True
            for ref in pending:
                ray.cancel(ref, force=True)
    except KeyboardInterrupt:  # during ray.init
        out.interrupted = True
    finally:
        if started:  # also after a Ctrl-C inside ray.init: its half-started processes go too
            left = {p: t for p, t in _descendants(os.getpid()).items() if p not in before}
            ray.shutdown()
            _reap(left)
    return out


_REAP_GRACE_S = 5.0  # how long a process of the local Ray may take to exit after ray.shutdown()


def _descendants(pid: int) -> dict[int, str]:
    """Live descendants of `pid` as {pid: start time} from /proc (Linux); {} where there is none."""
    parent, start = {}, {}
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        fields = _stat(name)
        if fields and fields[0] != "Z":
            parent[int(name)], start[int(name)] = int(fields[1]), fields[19]
    out: dict[int, str] = {}
    frontier = {pid}
    while frontier:
        frontier = {c for c, p in parent.items() if p in frontier and c not in out}
        out.update({c: start[c] for c in frontier})
    return out


def _stat(pid: str) -> list[str] | None:
    """Fields 3 on of /proc/PID/stat (state, ppid, ..., start time at 19), or None."""
    if not pid.isdigit():
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()
    except OSError:
        return None


def _reap(procs: dict[int, str]) -> None:
    """Wait a short grace for `procs` to exit, then SIGKILL those still alive (same start time).

    Ray's shutdown stops the processes it tracks, but an agent the raylet started can outlive it
    for a minute on a loaded machine (it retries the dead GCS); Ctrl-C must leave nothing behind.
    """
    deadline = time.monotonic() + _REAP_GRACE_S
    alive = procs
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = {p: t for p, t in alive.items() if _alive(p, t)}
    for p in alive:
        with suppress(OSError):
            os.kill(p, signal.SIGKILL)


def _alive(pid: int, start: str) -> bool:
    fields = _stat(str(pid))
    return fields is not None and fields[0] != "Z" and fields[19] == start


def check_reachable(address: str, timeout_s: float = 3.0) -> None:
    """A one-line error, within `timeout_s`, when a `host:port` Ray address does not answer (Ray itself
    retries for minutes). Other forms (`auto`, `ray://...`) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in address:
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s).close()
    except OSError as e:
        raise ConfigError(
            f"no Ray cluster answers at {address} ({e.strerror or e}); start one "
            "(`ray start --head`), fix --ray-address, or unset RAY_ADDRESS to run locally"
        ) from None


def _ray_init(ray: Any, address: str | None, kw: dict[str, Any]) -> None:
    """`ray.init`, with a cluster that cannot be reached as one line that says what to do."""
    if address:
        check_reachable(address)
    try:
        ray.init(ignore_reinit_error=True, log_to_driver=False, **kw)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        hint = " (set by RAY_ADDRESS; unset it to run locally)" if address else ""
        raise ConfigError(f"cannot start or reach {where}{hint}: {first}") from None


@contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C until the block ends, then raise it (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _get(ray: Any, ref: Any) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:  # a bad input inside a task: the same one-line error
        if isinstance(getattr(e, "cause", None), WankaError):
            raise e.cause from None
        raise
