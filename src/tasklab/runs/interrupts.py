"""Pre-emption and Ctrl-C: a run ends as *interrupted*, recorded, with a non-zero exit.

A scheduler (SLURM, Kubernetes, a cloud's spot reclaim) asks a job to stop with SIGTERM and
kills it a little later; a person at a terminal presses Ctrl-C (SIGINT). Either way the run
stops where it is (its last periodic checkpoint is on disk, written atomically), writes a
record with status ``interrupted`` and exits with 128 + the signal's number (143 for SIGTERM,
130 for SIGINT), the shell's convention a scheduler reads as "killed by a signal", never as
success. Launching the same command again resumes the run from that checkpoint.

Lightning's own SIGTERM handling raises ``SIGTERMException``, a ``SystemExit`` whose exit
code is 0, and only at the next step boundary; its Ctrl-C handling exits with 1. tasklab's
handler runs alongside Lightning's (Lightning keeps a handler that was installed before it)
and raises ``RunInterrupted`` at once.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

HANDLED = (signal.SIGTERM, signal.SIGINT)


class RunInterrupted(BaseException):
    """A signal asked the run (or the sweep) to stop. A ``BaseException``, like
    ``KeyboardInterrupt``: no ``except Exception`` on the way up may swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = int(signum)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def __str__(self) -> str:
        return f"interrupted by {self.signal_name}"


def is_interruption(error: BaseException) -> bool:
    """Whether ``error`` ended a run from outside (a signal, Ctrl-C, an exit requested by a
    launcher such as submitit on pre-emption) rather than from a fault of the run itself."""
    return isinstance(error, (RunInterrupted, KeyboardInterrupt, SystemExit))


def child_processes(pid: int | None = None) -> list[int]:
    """The process ids whose parent is ``pid`` (this process): a launcher's workers. Read
    from /proc; empty where there is none."""
    pid = os.getpid() if pid is None else pid
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if fields and len(fields) > 1 and fields[1] == str(pid):
            children.append(int(stat.parent.name))
    return children


def _handler(before_raise: Callable[[int], None] | None):
    raised = False

    def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
        """Raise once per block. A second signal (Ctrl-C reaches a worker both from the
        terminal and from its launcher) must not cut the record's writing short, and
        ignoring signals is not enough: Lightning's teardown puts this handler back."""
        nonlocal raised
        del frame
        if raised:
            return
        raised = True
        for handled in HANDLED:
            signal.signal(handled, signal.SIG_IGN)
        if before_raise is not None:
            before_raise(signum)
        raise RunInterrupted(signum)

    return _raise_interrupted


@contextmanager
def interruptible(before_raise: Callable[[int], None] | None = None) -> Iterator[None]:
    """SIGTERM and SIGINT raise ``RunInterrupted`` inside the block (in the main thread; a
    worker thread cannot install handlers and keeps what it has), after ``before_raise(signum)``
    (a launcher passes the signal on to its workers there). Handlers are restored after the
    block, so a launcher's own (submitit's pre-emption handler) are back in force."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {handled: signal.getsignal(handled) for handled in HANDLED}
    for handled in HANDLED:
        signal.signal(handled, _handler(before_raise))
    try:
        yield
    finally:
        for handled, handler in previous.items():
            signal.signal(handled, handler)


_REPORTED = re.compile(r"RunInterrupted: interrupted by (SIG[A-Z]+)")


def reported_interruption(error: BaseException) -> RunInterrupted | None:
    """The interruption a launcher reports second-hand: submitit's parent process raises its
    own error holding the job's error stream, where the job's ``RunInterrupted`` is a line."""
    found = _REPORTED.findall(str(error))
    if not found or found[-1] not in signal.Signals.__members__:
        return None
    return RunInterrupted(signal.Signals[found[-1]])


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    del frame
    raise SystemExit(128 + signum)


def quiet_worker_exit() -> None:
    """In a launcher's worker process (joblib's, started by multiprocessing), Ctrl-C or a
    passed-on SIGTERM that arrives between runs ends the worker with 128 + the signal
    instead of a KeyboardInterrupt traceback; during a run ``interruptible`` is in force."""
    import multiprocessing

    if multiprocessing.parent_process() is None:
        return
    if threading.current_thread() is not threading.main_thread():
        return
    for handled in HANDLED:
        if signal.getsignal(handled) in (signal.default_int_handler, signal.SIG_DFL):
            signal.signal(handled, _exit_quietly)
