"""CPU runtime settings for the command-line scripts (train, evaluate, export).

On this kind of machine PyTorch 1.13's oneDNN keeps an extra OpenMP thread busy even after
torch.set_num_threads(1), and glibc returns every large activation buffer to the kernel after each step;
together they doubled the CPU time of training (measured: 37 s -> 20 s CPU for the same 18 steps).
Both are fixed by the environment, which glibc and OpenMP read at process start, so the script re-executes
itself once with it. Explicit settings in the caller's environment win.
"""

from __future__ import annotations

import os
import sys

_MARK = "DEEPSC_CPU_ENV"


def configure_cpu_env(threads: int) -> None:
    """Re-exec the current script with OpenMP and malloc settings, unless already done."""
    if os.environ.get(_MARK) == "1":
        return
    env = dict(os.environ)
    env[_MARK] = "1"
    env.setdefault("OMP_NUM_THREADS", str(threads))
    env.setdefault("MKL_NUM_THREADS", str(threads))
    # Keep freed activation buffers in the heap (tensors under 32 MB) instead of mmap/munmap per step.
    env.setdefault("MALLOC_MMAP_THRESHOLD_", str(32 * 1024 * 1024))
    env.setdefault("MALLOC_TRIM_THRESHOLD_", str(4 * 1024 * 1024 * 1024))
    env.setdefault("MALLOC_TOP_PAD_", str(512 * 1024 * 1024))
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def threads_from_argv(argv: list[str], default: int = 1) -> int:
    """--threads N (or --threads=N) from the command line, before argparse runs."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv) and argv[i + 1].isdigit():
            return int(argv[i + 1])
        if a.startswith("--threads=") and a.split("=", 1)[1].isdigit():
            return int(a.split("=", 1)[1])
    return default
