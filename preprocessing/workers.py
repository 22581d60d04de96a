"""Worker-process helpers shared by the batch extractor and the chunked pose stream.

Workers watch their parent: when it dies (even by SIGKILL) they exit (``PR_SET_PDEATHSIG`` on Linux,
and a thread polling the parent's pid everywhere), so no worker outlives the command; stopping a
pebble pool never waits longer than POOL_STOP_TIMEOUT_S.
"""

import ctypes
import os
import signal
import sys
import threading
import time

from pebble import ProcessPool

DEFAULT_WORKERS = len(os.sched_getaffinity(0))  # the usable CPU cores
POOL_START_GRACE_S = 120.0  # a wait with nothing finished is bounded by time_limit + this (worker start-up)
POOL_STOP_TIMEOUT_S = 30.0  # stopping the pool (pebble: SIGTERM, SIGKILL after 3 s) never waits longer
PARENT_POLL_S = 0.5  # a worker checks this often whether its parent is still alive
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): signal this process when its parent dies


def watch_parent(parent_pid: int) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent (the parent died)."""
    if sys.platform.startswith("linux"):  # the kernel kills us even while native code holds the GIL
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    def poll() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=poll, name="watch-parent", daemon=True).start()


def stop_pool(pool: ProcessPool) -> None:
    """Stop ``pool`` and its workers without running queued tasks; never waits more than
    POOL_STOP_TIMEOUT_S (pebble sends SIGTERM, then SIGKILL to a worker that ignores it)."""
    pool.stop()
    joiner = threading.Thread(target=pool.join, name="stop-pool", daemon=True)
    joiner.start()
    joiner.join(POOL_STOP_TIMEOUT_S)
