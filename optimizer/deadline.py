"""The run's time limit covers loading and building too, not only HiGHS.

HiGHS gets what is left of `--time-limit` when it starts (`SolveOptions.deadline`). Loading
and building a model are Python work that can take minutes on a huge instance; the
watchdog below stops them: MARGIN_SECONDS after the deadline, if no plan has been found
yet and HiGHS is not running (HiGHS stops itself at the deadline), it raises
TimeLimitReached in the main thread. Once a plan exists the run is allowed to finish
extracting and writing it: a found plan is never thrown away.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager

MARGIN_SECONDS = 2.0
_RECHECK_SECONDS = 0.25

_state = {"solver_running": False, "plan_found": False}


class TimeLimitReached(BaseException):
    """The time limit passed before any plan was found (exit code 3).

    A BaseException, like KeyboardInterrupt, so that no `except Exception` on the way
    (Pyomo logs and re-raises those) turns it into something else."""


def solver_running(flag: bool) -> None:
    _state["solver_running"] = flag


def plan_found() -> None:
    _state["plan_found"] = True


@contextmanager
def watchdog(deadline: float | None, margin: float = MARGIN_SECONDS):
    """Within this block, raise TimeLimitReached once `deadline + margin` has passed while
    no plan has been found and HiGHS is not running. Main thread only (signals)."""
    usable = (deadline is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return
    _state.update(solver_running=False, plan_found=False)

    def on_alarm(signum, frame):
        if _state["plan_found"]:
            return
        if _state["solver_running"]:
            signal.setitimer(signal.ITIMER_REAL, _RECHECK_SECONDS)
            return
        raise TimeLimitReached(
            "the time limit was reached before any plan was found (loading and building the model count "
            "toward --time-limit); allow more --time-limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(0.001, deadline + margin - time.monotonic()))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
