"""Running serial kernels on several threads: the one mechanism behind crmjit's heavy
parallel work (the training passes and the per-segment fit).

A heavy kernel is compiled as a serial function over one task (a span of rows, a range of
chunks, a batch of segments) and called on ``threads()`` Python threads at once; every
kernel releases the GIL (``nogil=True``).  Compared with a numba ``prange`` driver this

* compiles the kernel's code once: numba compiles a parallel loop's body as a function
  of its own and then the driver around it, and LLVM optimises and emits the whole call
  tree again at each of those levels (the one-model training pass: 10.5 s to compile as
  a prange driver, 5.4 s as the serial chunk kernel alone, measured);
* never spins: idle pool threads wait on a queue, so a call that shares the machine
  with other processes or with the caller's own threads (scikit-learn's ``n_jobs``, a
  Dask worker) does not stall behind a spinning pool;
* is safe under concurrent calls from several Python threads, whatever numba threading
  layer is installed.

Results never depend on the thread count: the tasks are fixed by the size of the work
alone, each writes its own slot, and the caller merges the slots in task order.

Knobs: ``NUMBA_NUM_THREADS`` or ``numba.set_num_threads`` set how many threads run at
once; work below ``MIN_PARALLEL`` units runs in the calling thread (a thread hand-off
costs more than it saves).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

MIN_PARALLEL = 1 << 14  # units of work (rows) below which tasks run in the caller
SPAN = 1 << 13  # rows per task of ``over`` at the least ...
MAX_SPANS = 16  # ... and at most this many tasks

_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}


def threads() -> int:
    """How many threads crmjit's kernels use: numba's current setting."""
    import numba

    return int(numba.get_num_threads())


def _pool(n: int) -> ThreadPoolExecutor:
    with _lock:
        pool = _pools.get(n)
        if pool is None:
            pool = _pools[n] = ThreadPoolExecutor(n, thread_name_prefix="crmjit")
        return pool


def spans(n, span=None):
    """Consecutive (start, stop) covering [0, n), fixed by n (and span) alone: at least SPAN
    rows and at most MAX_SPANS spans unless ``span`` is given (one empty span for n = 0)."""
    if span is None:
        span = max(SPAN, -(-n // MAX_SPANS))
    return [(s, min(n, s + span)) for s in range(0, n, span)] or [(0, 0)]


def over(kernel, n, *args, span=None, work=None):
    """``kernel(*args, start, stop)`` for the consecutive spans of [0, n) (``spans``), on the
    threads; returns the results in span order.  ``work``: the size of the job in rows,
    when n counts something else (groups, chunks of rows); n by default."""
    return run(kernel, [args + s for s in spans(n, span)], work=n if work is None else work)


def run(kernel, tasks, work=MIN_PARALLEL, lanes=None):
    """Call ``kernel(*args)`` for every args tuple in ``tasks`` and return the results in
    task order.  With ``work`` (rows, say) below MIN_PARALLEL, or one thread, the tasks run
    one after the other in the calling thread.  Otherwise the caller and up to
    ``lanes - 1`` (default ``threads()``) pool threads take the tasks in order as they free
    up, and the caller then waits only for tasks a pool thread has started: a pool thread
    that is slow to start (another process on its core) delays nothing."""
    tasks = list(tasks)
    n = min(len(tasks), threads() if lanes is None else lanes)
    if n <= 1 or work < MIN_PARALLEL:
        return [kernel(*args) for args in tasks]
    results = [None] * len(tasks)
    errors = []
    state = {"next": 0, "running": 0}
    cond = threading.Condition()

    def take():
        while True:
            with cond:
                i = state["next"]
                if i >= len(tasks):
                    return
                state["next"] = i + 1
                state["running"] += 1
            try:
                results[i] = kernel(*tasks[i])
            except BaseException as exc:  # re-raised in the caller
                errors.append(exc)
            finally:
                with cond:
                    state["running"] -= 1
                    cond.notify_all()

    pool = _pool(n - 1)
    for _ in range(n - 1):
        pool.submit(take)
    take()
    with cond:
        while state["running"]:
            cond.wait()
    if errors:
        raise errors[0]
    return results
