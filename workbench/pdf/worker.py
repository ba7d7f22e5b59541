"""Run PyMuPDF on untrusted PDFs in a worker process with a deadline and a memory limit.

MuPDF is C code: one call on a hostile file (a flate bomb that inflates 3 MB into a gigabyte of
drawing commands, a page that draws ten million lines) can run for minutes or allocate
gigabytes, and Python cannot interrupt it. `run(job, *args, deadline_s=, memory_mb=)` sends
the job (a module-level function, pickled by name, and its arguments) to a worker,
`python -P -m workbench.pdf.worker`, which caps its own CPU time and address space for the job
(RLIMIT_CPU, RLIMIT_AS, on top of what it uses already) and sends back the result; the caller
kills it at the deadline. The outcome is the job's result, the job's `WorkbenchError`, or
`OverTime`, `OverMemory`, `Failed` (a MuPDF exception, a crash), which `workbench.pdf.document` words as
a `PdfError` naming the file. The worker writes no file; its stderr is discarded and the
warnings it logs are logged again by the caller.

Why a subprocess of our own rather than multiprocessing: multiprocessing re-runs the caller's
main script in each child it starts, which costs every worker the `streamlit` CLI's import
(under `streamlit run`) and fails outright for `python -` or a notebook; and a plain subprocess
is never forked from the app's threads. `-P` keeps the current folder off the worker's import path.

A worker whose job ended well (a result or a `PdfError`) serves the next one: starting one
costs 0.2-0.9 s (Python and PyMuPDF's import), extracting one of the course's papers 0.03-1.2 s,
and even a process forked per job was 10% slower than one that had run jobs before (cold memory).
At most IDLE_WORKERS wait between jobs; a worker retires after JOBS_PER_WORKER jobs, and one
that ran over a limit, failed or crashed is never reused. Unix only (`resource`, `select`).
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from workbench.errors import WorkbenchError

GRACE_S = 1.0           # past the deadline, for a worker that stops itself to say so
IDLE_WORKERS = 2        # kept for the next job
JOBS_PER_WORKER = 50    # then a fresh process, so that no job inherits much of earlier jobs' heap
KEEP_MB = 200           # a worker holding more after a job empties MuPDF's cache (fonts, images)

_idle: list[_Worker] = []
_lock = threading.Lock()
_cpu_s = 0.0


class OverTime(Exception):
    """The job ran past its deadline (or its CPU limit) and the worker was stopped."""


class OverMemory(Exception):
    """The job needed more memory than its limit."""


class Failed(Exception):
    """The job raised something other than a WorkbenchError, or the worker crashed."""


def out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is a failed allocation: Python's MemoryError, or MuPDF's FzErrorSystem
    'code=2: calloc (4104 x 1 bytes) failed' (under the worker's memory limit)."""
    return isinstance(exc, MemoryError) or bool(re.search(r"\b(m|c|re)alloc\b.* failed", str(exc)))


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def cpu_seconds() -> float:
    """CPU seconds the finished jobs of this process took in their workers (for benchmarks)."""
    return _cpu_s


# --- the caller's side ------------------------------------------------------------------------


def _send(fh, message) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(len(data).to_bytes(8, "big") + data)
    fh.flush()


def _receive(fh):
    header = fh.read(8)
    data = fh.read(int.from_bytes(header, "big")) if len(header) == 8 else b""
    if not data:
        raise EOFError
    return pickle.loads(data)  # noqa: S301  between the caller and its own worker, not the PDF


class _Worker:
    def __init__(self):
        import workbench

        root = str(Path(workbench.__file__).resolve().parent.parent)  # where `workbench` is
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-P", "-m", "workbench.pdf.worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=path))
        self.jobs = 0

    def stop(self, kill: bool) -> int:
        """End the process (killed, or told by closing its input); its exit code."""
        if kill:
            self.process.kill()
        try:
            self.process.stdin.close()
        except OSError:
            pass  # it is gone already
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process.stdout.close()
        return code


def run(job: Callable, *args, deadline_s: float, memory_mb: int):
    """`job(*args)` in a worker with `deadline_s` seconds and `memory_mb` MB (see the module
    docstring). The worker's own CPU limit, 2-3 s over the deadline, stops the job should the
    caller be gone."""
    global _cpu_s
    with _lock:
        worker = _idle.pop() if _idle else None
    if worker is not None and worker.process.poll() is not None:  # killed while idle
        worker.stop(kill=False)
        worker = None
    worker = worker or _Worker()
    reply, finished = None, False
    try:
        _send(worker.process.stdin, (job, args, int(deadline_s) + 2, memory_mb))
        ready, _, _ = select.select([worker.process.stdout], [], [], deadline_s + GRACE_S)
        if ready:
            finished = True
            reply = _receive(worker.process.stdout)
    except (EOFError, OSError):
        finished = True  # the worker died: its exit code says why
    finally:
        worker.jobs += 1
        code = None
        if reply is not None and reply[0] in ("ok", "error") and worker.jobs < JOBS_PER_WORKER:
            with _lock:
                keep = len(_idle) < IDLE_WORKERS
                if keep:
                    _idle.append(worker)
            if not keep:
                worker.stop(kill=False)
        else:  # past the deadline, interrupted, over a limit, crashed: this process is done
            code = worker.stop(kill=not finished)
    if reply is None:
        if not finished or code == -signal.SIGXCPU:
            raise OverTime
        if code == -signal.SIGKILL:  # the kernel's out-of-memory killer
            raise OverMemory
        raise Failed(f"the PDF worker crashed ({signal.Signals(-code).name if code < 0 else code})")
    kind, value, records, cpu = reply
    with _lock:
        _cpu_s += cpu
    for logger, level, message in records:
        logging.getLogger(logger).log(level, "%s", message)
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    raise OverMemory if kind == "memory" else Failed(value)


# --- the worker's side -----------------------------------------------------------------------


class _Records(logging.Handler):
    """The job's warnings, sent back to be logged by the caller."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record):
        self.records.append((record.name, record.levelno, record.getMessage()))


def _set_soft_limit(which: int, value: int) -> None:
    import resource

    _, hard = resource.getrlimit(which)
    resource.setrlimit(which, (value if hard == resource.RLIM_INFINITY else min(value, hard), hard))


def _memory() -> tuple[int, int]:
    """(bytes mapped, bytes resident) of this process; (0, 0) without /proc (macOS, which does
    not enforce RLIMIT_AS anyway: the deadline remains)."""
    try:
        with open("/proc/self/statm") as fh:
            size, resident = fh.read().split()[:2]
    except OSError:
        return 0, 0
    return int(size) * os.sysconf("SC_PAGE_SIZE"), int(resident) * os.sysconf("SC_PAGE_SIZE")


def _run_one(job: Callable, args: tuple, cpu_s: int, memory_mb: int, records: _Records) -> tuple:
    """(kind, value, log records, CPU s) of one job, under its limits."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _set_soft_limit(resource.RLIMIT_CPU, int(used) + 1 + cpu_s)
    mapped, _ = _memory()
    if mapped:  # on top of what the worker maps already (90 MB and up)
        _set_soft_limit(resource.RLIMIT_AS, mapped + memory_mb * 2**20)
    records.records = []
    try:
        reply: tuple = ("ok", job(*args))
    except WorkbenchError as exc:
        reply = ("error", exc)
    except Exception as exc:
        reply = ("memory", None) if out_of_memory(exc) else ("failed", one_line(exc))
    if _memory()[1] > KEEP_MB * 2**20:  # emptied after every job, extraction was 12% slower
        sys.modules["pymupdf"].TOOLS.store_shrink(100)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (*reply, records.records, usage.ru_utime + usage.ru_stime - used)


def main() -> None:
    """The worker: PyMuPDF without its optional imports, then jobs from stdin until it closes.

    `pymupdf.layout` (two ONNX models) and `pymupdf4llm` (numpy, onnxruntime) are never used
    here: without them PyMuPDF's import maps 90 MB instead of 545 and takes 0.9 s instead of
    8 s, and no OpenBLAS thread pool hangs under the memory limit.
    """
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file in the workspace when killed
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's: it stops the worker
    requests, replies = sys.stdin.buffer, os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print cannot corrupt a reply
    sys.modules.setdefault("pymupdf.layout", None)  # type: ignore[arg-type]
    sys.modules.setdefault("pymupdf4llm", None)  # type: ignore[arg-type]
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)  # reported through the reply instead
    pymupdf.TOOLS.mupdf_display_warnings(False)
    records = _Records()
    logging.getLogger().addHandler(records)
    while True:
        try:
            job, args, cpu_s, memory_mb = _receive(requests)
        except EOFError:
            return
        reply = _run_one(job, args, cpu_s, memory_mb, records)
        try:
            _send(replies, reply)
        except Exception as exc:  # a result that does not pickle, or too large for the limit
            kind = "memory" if out_of_memory(exc) else "failed"
            _send(replies, (kind, one_line(exc), reply[2], reply[3]))


if __name__ == "__main__":
    main()
