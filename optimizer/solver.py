"""Hand a Pyomo model to HiGHS and bring the answer back.

Route: Pyomo's LinearStandardFormCompiler turns the model into sparse matrices, which
go to highspy in one `passModel` call. Measured against Pyomo's `appsi_highs` and
`highs` persistent interfaces this was the fastest hand-off (see docs/solving.md);
it also gives us the row <-> constraint map needed for duals.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from . import deadline

INF = math.inf


class Status(str, Enum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a time or gap limit stopped the search with a solution
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


@dataclass
class SolveOptions:
    """Solver settings the user controls (CLI flags map one to one)."""

    time_limit: float | None = None  # seconds
    mip_gap: float = 1e-4  # relative
    threads: int | None = None  # HiGHS threads; None = HiGHS default
    verbose: bool = False  # show the HiGHS log
    lp_method: str = "choose"  # choose | simplex | ipm | pdlp
    progress: bool = True  # one line per solve on stderr when not verbose
    elastic: bool | None = None  # soft demands/targets/floors/needs; None = the instance's settings.elastic
    deadline: float | None = None  # time.monotonic() by which the run must end; api.solve sets it from
    # time_limit when unset, the CLI before loading so that loading counts too

    def __post_init__(self):
        for name, value, low, high in (("time_limit", self.time_limit, 0.0, None), ("mip_gap", self.mip_gap, 0.0, 1.0)):
            if value is None and name == "time_limit":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < low or (high is not None and value > high):
                raise ValueError(f"{name}: expected a finite number within {low:g}..{high if high else 'inf'}, "
                                 f"got {value!r}")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or not 1 <= self.threads <= 4096):
            raise ValueError(f"threads: expected a whole number from 1 to 4096, got {self.threads!r}")

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never below 0), or None without a time limit."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())


@dataclass
class Solution:
    """Outcome of one HiGHS run on a compiled model."""

    status: Status
    objective: float | None
    bound: float | None
    mip_gap: float | None
    handoff_seconds: float
    solve_seconds: float
    model_status: str
    num_cols: int = 0
    num_rows: int = 0
    num_int: int = 0
    row_duals: np.ndarray | None = field(default=None, repr=False)
    row_index: dict = field(default_factory=dict, repr=False)  # ConstraintData -> [row ids]
    kept: tuple | None = field(default=None, repr=False)  # (Highs, Compiled) when asked to keep

    def dual(self, constraint) -> float:
        """d objective / d right-hand side of a constraint (LP solves only)."""
        if self.row_duals is None:
            raise ValueError("no duals: the model was solved as a MIP")
        rows = self.row_index.get(constraint, [])
        return float(sum(self.row_duals[r] for r in rows))


@dataclass
class Compiled:
    """A Pyomo model in HiGHS's column-wise matrix form."""

    lp: object  # highspy.HighsLp
    columns: list
    row_constraints: list
    row_index: dict
    num_int: int
    seconds: float
    integer: list | None = None  # per column: True if integer (saves re-reading lp.integrality_)


def _standard_form_compiler():
    """Pyomo's LinearStandardFormCompiler with its matrix hooks bound to scipy.sparse.

    Left alone, the compiler's first use resolves Pyomo's deferred `scipy` import, whose
    finaliser also imports scipy.stats, .spatial and .integrate -- about 0.7 s per process,
    more than compiling a small model, for modules the compiler never uses. So scipy.sparse
    is imported here with Pyomo's post-import callback for scipy held back, and the
    compiler's hooks (documented class attributes) get the values Pyomo itself would set.
    Pyomo's deferred `scipy` stays unresolved and still finalises normally if anything
    else uses it later.
    """
    from pyomo.repn.plugins import standard_form

    if not _patch_tested():
        return standard_form.LinearStandardFormCompiler()  # slower first use, but Pyomo's own path
    impl = standard_form._LinearStandardFormCompiler_impl
    if impl._csc_matrix is None:
        impl._to_vector = np.fromiter
        sparse = _import_scipy_sparse()
        impl._csc_matrix = sparse.csc_array
        impl._csr_matrix = sparse.csr_array
    return standard_form.LinearStandardFormCompiler()


# Pyomo releases whose internals the shortcut above was checked against (the compiler's
# hook attributes, DeferredImportCallbackFinder._callbacks). On any other release the
# engine uses Pyomo unpatched: slower by the scipy import, never wrong.
PATCH_TESTED_PYOMO = ("6.10.1",)


def _patch_tested() -> bool:
    try:
        import pyomo.version

        release = pyomo.version.version
    except (ImportError, AttributeError):
        return False
    if release not in PATCH_TESTED_PYOMO:
        return False
    from pyomo.repn.plugins import standard_form

    impl = getattr(standard_form, "_LinearStandardFormCompiler_impl", None)
    return impl is not None and all(hasattr(impl, a) for a in ("_csc_matrix", "_csr_matrix", "_to_vector"))


def _import_scipy_sparse():
    import sys

    if "scipy.sparse" in sys.modules:
        return sys.modules["scipy.sparse"]
    try:
        from pyomo.common.dependencies import DeferredImportCallbackFinder

        callbacks = DeferredImportCallbackFinder._callbacks
    except (ImportError, AttributeError):  # another Pyomo: import normally
        callbacks = {}
    held = {k: callbacks.pop(k) for k in list(callbacks) if k == "scipy" or k.startswith("scipy.")}
    try:
        import scipy.sparse
    finally:
        callbacks.update(held)
    return scipy.sparse


def compile_model(model) -> Compiled:
    """Pyomo model -> highspy.HighsLp via the standard-form compiler (no files)."""
    import highspy

    start = time.perf_counter()
    repn = _standard_form_compiler().write(model, mixed_form=True)
    rows = repn.rows
    n = len(rows)
    rhs = np.asarray(repn.rhs, dtype=float)
    cons = [r[0] for r in rows]
    senses = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)

    # A range constraint comes as two consecutive rows (<= and >=): merge them into one.
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = np.fromiter((a is not b for a, b in zip(cons[1:], cons[:-1])), dtype=bool, count=n - 1)
    keep = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    row_lower = np.full(len(keep), -INF)
    row_upper = np.full(len(keep), INF)
    has_upper = senses >= 0  # equality (0) or <= (+1)
    has_lower = senses <= 0  # equality (0) or >= (-1)
    row_upper[group[has_upper]] = rhs[has_upper]
    row_lower[group[has_lower]] = rhs[has_lower]
    row_constraints = [cons[i] for i in keep]
    row_index: dict = {con: [k] for k, con in enumerate(row_constraints)}
    A = repn.A.tocsr()
    A = A[keep, :].tocsc() if len(keep) < n else A.tocsc()

    columns = list(repn.columns)
    ncol = len(columns)
    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = len(keep)
    cost = np.asarray(repn.c.toarray()[0] if repn.c.shape[0] else np.zeros(ncol), dtype=float)
    lp.col_cost_ = cost
    lp.offset_ = float(repn.c_offset[0]) if len(repn.c_offset) else 0.0
    bounds = [v.bounds for v in columns]  # one call per variable for both bounds
    lp.col_lower_ = np.fromiter((-INF if lb is None else lb for lb, _ in bounds), float, ncol)
    lp.col_upper_ = np.fromiter((INF if ub is None else ub for _, ub in bounds), float, ncol)
    lp.row_lower_ = row_lower
    lp.row_upper_ = row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    lp.a_matrix_.num_col_ = ncol
    lp.a_matrix_.num_row_ = len(keep)
    # integrality depends on the domain only: ask once per distinct domain object
    by_domain: dict[int, bool] = {}
    integer = []
    for v in columns:
        flag = by_domain.get(id(v.domain))
        if flag is None:
            flag = by_domain[id(v.domain)] = v.is_integer() or v.is_binary()
        integer.append(flag)
    num_int = sum(integer)
    if num_int:
        kint, kcont = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
        lp.integrality_ = [kint if flag else kcont for flag in integer]
    return Compiled(lp, columns, row_constraints, row_index, num_int, time.perf_counter() - start, integer)


_scheduler_threads: int | None = None  # thread count of HiGHS's process-wide pool


def make_highs(compiled: Compiled, options: SolveOptions):
    """A Highs object holding the compiled model with the user's options applied."""
    import highspy

    global _scheduler_threads
    if options.threads != _scheduler_threads:
        # HiGHS keeps one thread pool per process, sized by the first solve; a different
        # thread count needs a fresh pool or HiGHS refuses to run.
        highspy.Highs.resetGlobalScheduler(True)
        _scheduler_threads = options.threads
    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(options.verbose))
    limits = [float(options.time_limit)] if options.time_limit is not None else []
    remaining = options.remaining()
    if remaining is not None:
        # what is left of the run's limit (loading and building used the rest); a run
        # past its deadline gets 0 s and stops at once
        limits.append(remaining)
    if limits:
        h.setOptionValue("time_limit", min(limits))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    if options.threads is not None:
        h.setOptionValue("threads", int(options.threads))
    if options.lp_method != "choose":
        h.setOptionValue("solver", options.lp_method)
    h.passModel(compiled.lp)
    return h


def solve_model(model, options: SolveOptions, keep: bool = False, start: dict | None = None,
                report=None) -> Solution:
    """Compile, solve with HiGHS, and load the solution into the Pyomo variables.

    keep=True holds on to the HiGHS object so that `resolve_with_integers_fixed` can
    re-solve the same matrix without compiling it again. start: a first plan for a MIP,
    Pyomo variable -> value (variables left out are left to HiGHS to complete). report:
    called with a progress line every PROGRESS_SECONDS while a MIP runs.
    """
    began = time.perf_counter()
    compiled = compile_model(model)
    h = make_highs(compiled, options)
    if start:
        set_start(h, compiled, start)
    return _run(h, compiled, time.perf_counter() - began, keep, report)


def set_start(h, compiled: Compiled, start: dict) -> None:
    """Hand HiGHS a first plan (a partial one is completed by HiGHS's own sub-MIP)."""
    position = {id(v): i for i, v in enumerate(compiled.columns)}
    pairs = [(position[id(v)], float(x)) for v, x in start.items() if id(v) in position]
    if not pairs:
        return
    index = np.array([i for i, _ in pairs], dtype=np.int32)
    value = np.array([x for _, x in pairs], dtype=float)
    h.setSolution(len(pairs), index, value)


PROGRESS_SECONDS = 5.0  # a progress line this often while a MIP runs (without --verbose)


def watch_progress(h, report, every: float = PROGRESS_SECONDS):
    """Subscribe `report(line)` to HiGHS's MIP callback: best plan, bound and gap every few seconds.

    Returns the subscribed function (for unsubscribing). The figures are HiGHS's own: the
    objective of the best plan found so far as the solver sees it, and its dual bound.
    """
    last = [time.perf_counter()]

    def tick(event) -> None:
        now = time.perf_counter()
        if now - last[0] < every:
            return
        last[0] = now
        out = event.data_out
        best, bound = out.mip_primal_bound, out.mip_dual_bound
        if math.isfinite(best):
            gap = abs(best - bound) / max(abs(best), 1e-9) if math.isfinite(bound) else math.inf
            gap_text = f"{gap:.2%}" if math.isfinite(gap) else "-"
            text = f"best plan so far {best:,.2f}, bound {bound:,.2f}, gap {gap_text}"
        else:
            text = f"no plan yet, bound {bound:,.2f}" if math.isfinite(bound) else "no plan yet"
        report(f"{text} ({out.running_time:.0f}s, {out.mip_node_count:,} nodes)")

    h.cbMipInterrupt.subscribe(tick)
    return tick


def resolve_with_integers_fixed(sol: Solution) -> Solution:
    """The LP left when every integer variable is fixed at its value in `sol` (for duals).

    Reuses the HiGHS object kept by `solve_model(..., keep=True)`: the integer columns
    become continuous columns with equal bounds, and HiGHS solves again.
    """
    import highspy

    if sol.kept is None:
        raise ValueError("solve_model was not asked to keep the model (keep=True)")
    h, compiled = sol.kept
    start = time.perf_counter()
    flags = _integrality(compiled)
    columns = np.flatnonzero(np.asarray(flags, dtype=bool)).astype(np.int32)
    if len(columns):
        values = np.array([float(compiled.columns[i].value) for i in columns])
        h.changeColsIntegrality(len(columns), columns,
                                np.array([highspy.HighsVarType.kContinuous] * len(columns)))
        h.changeColsBounds(len(columns), columns, values, values)
    lp = dataclasses.replace(compiled, num_int=0, integer=[False] * len(compiled.columns))
    return _run(h, lp, time.perf_counter() - start, keep=False)


def _run(h, compiled: Compiled, handoff: float, keep: bool, report=None) -> Solution:
    """Run HiGHS on a passed model and read the outcome back."""
    import highspy

    start = time.perf_counter()
    deadline.solver_running(True)
    watched = watch_progress(h, report) if report is not None and compiled.num_int else None
    try:
        run_interruptible(h)
        ms = h.getModelStatus()
        if ms == highspy.HighsModelStatus.kUnboundedOrInfeasible:
            # presolve cannot tell which; solving without it can
            h.setOptionValue("presolve", "off")
            run_interruptible(h)
            ms = h.getModelStatus()
        if h.getInfo().primal_solution_status == 2:
            deadline.plan_found()
    finally:
        deadline.solver_running(False)
        if watched is not None:
            h.cbMipInterrupt.unsubscribe(watched)
    seconds = time.perf_counter() - start

    info = h.getInfo()
    K = highspy.HighsModelStatus
    status = _status_of(ms, info)

    objective = bound = gap = None
    duals = None
    if status.has_solution:
        sol = h.getSolution()
        values = np.asarray(sol.col_value, dtype=float)
        if ms == K.kModelEmpty:
            values = np.zeros(len(compiled.columns))
        for var, value, is_int in zip(compiled.columns, values, _integrality(compiled)):
            var.set_value(round(value) if is_int else value, skip_validation=True)
        objective = float(compiled.lp.offset_ + float(np.dot(compiled.lp.col_cost_, values))) if len(values) else float(compiled.lp.offset_)
        if compiled.num_int:
            bound = float(info.mip_dual_bound)
            if not math.isfinite(bound):
                bound = None
        else:
            bound = objective
            if sol.dual_valid:
                duals = np.asarray(sol.row_dual, dtype=float)
        gap = abs(objective - bound) / max(abs(objective), 1e-9) if bound is not None else None
        if gap is not None and gap < 1e-12:
            gap = 0.0
    return Solution(
        status=status,
        objective=objective,
        bound=bound,
        mip_gap=gap,
        handoff_seconds=handoff,
        solve_seconds=seconds,
        model_status=h.modelStatusToString(ms),
        num_cols=len(compiled.columns),
        num_rows=len(compiled.row_constraints),
        num_int=compiled.num_int,
        row_duals=duals,
        row_index=compiled.row_index,
        kept=(h, compiled) if keep else None,
    )


def run_interruptible(h) -> None:
    """`h.run()` that Ctrl-C stops: HiGHS runs in a helper thread while this one waits.

    Python delivers SIGINT to the main thread only between bytecodes, never while it is
    inside HiGHS; waiting in short waits lets the KeyboardInterrupt arrive, and HiGHS's
    interrupt callbacks then tell the solver to stop. The KeyboardInterrupt is raised
    again once HiGHS has stopped, so that the caller keeps nothing of the run.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        h.run()  # signals reach the main thread only: nothing to catch here
        return
    stop = threading.Event()

    def interrupt(event):
        if stop.is_set():
            event.interrupt()

    hooks = (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt)
    for hook in hooks:
        hook.subscribe(interrupt)
    failure: list[BaseException] = []
    done = threading.Event()  # not Thread.join: an interrupted join can report a live thread as ended

    def target():
        try:
            h.run()
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)
        finally:
            done.set()

    interrupted = False
    try:
        # once started (even if Ctrl-C interrupts start() itself) the thread will set `done`
        threading.Thread(target=target, name="highs-run", daemon=True).start()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
    try:
        while not done.is_set():
            try:
                done.wait(0.1)
            except KeyboardInterrupt:
                interrupted = True
                stop.set()
    finally:
        for hook in hooks:
            hook.unsubscribe(interrupt)
    if failure:
        raise failure[0]
    if interrupted:
        raise KeyboardInterrupt



def _status_of(ms, info) -> Status:
    """The project's status for a HiGHS model status (a stopped search counts only with a plan)."""
    import highspy

    K = highspy.HighsModelStatus
    has_primal = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if ms == K.kOptimal or ms == K.kModelEmpty:
        return Status.OPTIMAL
    if ms == K.kInfeasible:
        return Status.INFEASIBLE
    if ms in (K.kUnbounded, K.kUnboundedOrInfeasible):
        return Status.UNBOUNDED if ms == K.kUnbounded else Status.INFEASIBLE
    if has_primal and ms in (K.kTimeLimit, K.kIterationLimit, K.kSolutionLimit, K.kInterrupt,
                             K.kObjectiveBound, K.kObjectiveTarget, K.kMemoryLimit, K.kHighsInterrupt):
        return Status.FEASIBLE
    return Status.ERROR

def _integrality(compiled: Compiled):
    if compiled.integer is not None:
        return compiled.integer
    if not compiled.num_int:
        return [False] * len(compiled.columns)
    import highspy

    return [t == highspy.HighsVarType.kInteger for t in compiled.lp.integrality_]


def versions() -> dict:
    """Versions of the solver stack, recorded in every summary."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("highspy", "pyomo", "stockpile"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def feasibility_relaxation(model, options: SolveOptions, limit: int = 5) -> list[tuple[str, float]]:
    """The constraints an infeasible model must bend, and by how much, at least total bending.

    HiGHS's feasibility relaxation minimises the total violation of constraint bounds
    (variable bounds and integrality kept). Returns up to `limit` (constraint name,
    violation) pairs, largest first; empty if HiGHS finds no relaxation.
    """
    compiled = compile_model(model)
    h = make_highs(compiled, SolveOptions(time_limit=min(options.time_limit or 60.0, 60.0), progress=False))
    h.feasibilityRelaxation(-1.0, -1.0, 1.0)  # negative: bounds of variables may not move
    sol = h.getSolution()
    if not sol.value_valid:
        return []
    activity = np.asarray(sol.row_value, dtype=float)
    lower = np.asarray(compiled.lp.row_lower_, dtype=float)
    upper = np.asarray(compiled.lp.row_upper_, dtype=float)
    violation = np.maximum(lower - activity, 0.0) + np.maximum(activity - upper, 0.0)
    scale = np.maximum(1.0, np.abs(np.where(np.isfinite(lower), lower, 0.0)))
    rows = [i for i in np.argsort(-violation) if violation[i] > 1e-6 * scale[i]][:limit]
    return [(compiled.row_constraints[i].name, float(violation[i])) for i in rows]


# -- a HiGHS model kept across solves ----------------------------------------------------------


@dataclass
class KeptRun:
    """Outcome of one run of a `KeptModel`: values by column, duals by row (LP only)."""

    status: Status
    objective: float | None
    bound: float | None
    mip_gap: float | None
    seconds: float
    model_status: str
    col_value: np.ndarray | None = field(default=None, repr=False)
    row_dual: np.ndarray | None = field(default=None, repr=False)
    col_dual: np.ndarray | None = field(default=None, repr=False)


class KeptModel:
    """One HiGHS model changed between solves instead of compiled again for each.

    For models written straight into a `highspy.HighsLp` (no Pyomo) that are solved
    several times with another objective, extra rows or other bounds: HiGHS keeps its
    basis across the changes, so an LP re-solve starts warm. `make_highs` applies the
    user's options, so the benchmark runner sees this hand-off like any other.
    """

    def __init__(self, lp, options: SolveOptions, num_int: int = 0):
        start = time.perf_counter()
        compiled = Compiled(lp, [], [], {}, num_int, 0.0)
        self.h = make_highs(compiled, options)
        self.handoff_seconds = time.perf_counter() - start
        self.options = options

    @property
    def num_cols(self) -> int:
        return int(self.h.getNumCol())

    @property
    def num_rows(self) -> int:
        return int(self.h.getNumRow())

    def set_time_limit(self, seconds: float | None) -> None:
        self.h.setOptionValue("time_limit", float(seconds) if seconds is not None else INF)

    def set_objective(self, cost: np.ndarray, offset: float = 0.0) -> None:
        n = len(cost)
        self.h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(cost, dtype=float))
        self.h.changeObjectiveOffset(float(offset))

    def add_row(self, lower: float, upper: float, columns: np.ndarray, values: np.ndarray) -> int:
        self.h.addRow(float(lower), float(upper), len(columns), np.asarray(columns, dtype=np.int32),
                      np.asarray(values, dtype=float))
        return self.num_rows - 1

    def set_row_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(rows):
            self.h.changeRowsBounds(len(rows), np.asarray(rows, dtype=np.int32), np.asarray(lower, dtype=float),
                                    np.asarray(upper, dtype=float))

    def set_col_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(cols):
            self.h.changeColsBounds(len(cols), np.asarray(cols, dtype=np.int32), np.asarray(lower, dtype=float),
                                    np.asarray(upper, dtype=float))

    def set_integer(self, cols: np.ndarray, integer: bool) -> None:
        import highspy

        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        if len(cols):
            self.h.changeColsIntegrality(len(cols), np.asarray(cols, dtype=np.int32),
                                         np.array([kind] * len(cols)))

    def set_start(self, values: np.ndarray) -> None:
        """A feasible plan for the MIP to start from (HiGHS checks it)."""
        import highspy

        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(values, dtype=float)
        sol.value_valid = True
        self.h.setSolution(sol)

    def run(self, mip: bool) -> KeptRun:
        """Solve as it stands now; `mip` says whether integer columns are present."""
        import highspy

        start = time.perf_counter()
        deadline.solver_running(True)
        try:
            run_interruptible(self.h)
        finally:
            deadline.solver_running(False)
        seconds = time.perf_counter() - start
        ms = self.h.getModelStatus()
        info = self.h.getInfo()
        status = _status_of(ms, info)
        out = KeptRun(status, None, None, None, seconds, self.h.modelStatusToString(ms))
        if status.has_solution:
            sol = self.h.getSolution()
            out.col_value = np.asarray(sol.col_value, dtype=float)
            out.objective = float(info.objective_function_value)
            if mip:
                b = float(info.mip_dual_bound)
                out.bound = b if math.isfinite(b) else None
            else:
                out.bound = out.objective if status == Status.OPTIMAL else None
                if sol.dual_valid:
                    out.row_dual = np.asarray(sol.row_dual, dtype=float)
                    out.col_dual = np.asarray(sol.col_dual, dtype=float)
            if out.bound is not None:
                out.mip_gap = abs(out.objective - out.bound) / max(abs(out.objective), 1e-9)
                if out.mip_gap < 1e-12:
                    out.mip_gap = 0.0
        return out
