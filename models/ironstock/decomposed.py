"""Ironstock by scenario decomposition: mpi-sppy's L-shaped method (see docs/decomposition.md).

Each crisis scenario is one Pyomo model, built by the same code as the monolithic model
(`formulation.build_model` with that scenario only): the first stage (reserve, lots,
reserved capacity, write-off, budget and storage) plus that scenario's play-out. mpi-sppy
spreads the scenario models over the MPI ranks (one rank without MPI), solves the master
on rank 0 and adds one optimality cut per scenario and iteration.

The stopping rule is a proven gap: the master's objective is a lower bound; the exact
expected cost of the master's first stage (every play-out served as early as possible,
`greedy_shortage`) is an upper bound. The best first stage found is the plan.

Run as `python -m models.ironstock.decomposed IN.pickle OUT.pickle` under mpiexec: the
solve in formulation.py starts that itself when `settings.processes` > 1.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from stockpile.instance import Instance
from stockpile.solver import SolveOptions

from .data import IronstockData

SOLVER = "highs"  # Pyomo's persistent HiGHS interface; pyomo.contrib.benders knows its dual signs


@dataclass
class Outcome:
    """What the decomposition hands back to formulation.py (picklable, rank 0 only)."""

    R: dict[str, float]
    c: dict[str, float]
    lower_bound: float
    upper_bound: float
    iterations: int
    converged: bool
    budget_marginal_value: float | None = None
    storage_marginal_value: float | None = None
    ranks: int = 1
    subproblems: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def gap(self) -> float:
        return (self.upper_bound - self.lower_bound) / max(abs(self.upper_bound), 1e-9)


# -- the exact second stage, for the upper bound -------------------------------------------


class Evaluator:
    """Expected yearly cost of a first stage, exactly, without a solver (numpy over all pairs)."""

    def __init__(self, d: IronstockData):
        self.d = d
        self.products = list(d.products)
        self.reservations = list(d.reservations)
        index = {p: i for i, p in enumerate(self.products)}
        pairs = d.pairs
        self.product_of = np.array([index[p] for _, p in pairs], dtype=np.int64)
        self.demand = np.array([d.demand[pair] for pair in pairs]).reshape(len(pairs), d.T)
        self.base = np.array([d.source_capacity(w, p) for w, p in pairs]).reshape(len(pairs), d.T)
        self.weight = np.array([d.scenarios[w].probability * d.products[p].shortage_penalty for w, p in pairs])
        # active[k, p, t] = 1 where reservation k of product p delivers in period t
        self.active = np.zeros((len(self.reservations), len(self.products), d.T))
        for i, k in enumerate(self.reservations):
            r = d.reservations[k]
            self.active[i, index[r.product], r.ramp_up_periods:] = 1.0

    def shortage(self, R: dict[str, float], c: dict[str, float]) -> np.ndarray:
        """Least total shortage of every pair (data.greedy_shortage, vectorised)."""
        extra = np.einsum("k,kpt->pt", np.array([c[k] for k in self.reservations]), self.active) \
            if self.reservations else np.zeros((len(self.products), self.d.T))
        cap = self.base + extra[self.product_of]
        stock = np.array([R[p] for p in self.products])[self.product_of]
        short = np.zeros(len(stock))
        for t in range(self.d.T):
            available = stock + cap[:, t]
            use = np.minimum(self.demand[:, t], available)
            short += self.demand[:, t] - use
            stock = available - use
        return short

    def first_stage_cost(self, R: dict[str, float], c: dict[str, float]) -> float:
        d = self.d
        return (sum(d.products[p].holding_cost * R[p] + d.writeoff(p, R[p]) for p in d.products)
                + sum(d.reservations[k].fee * c[k] for k in d.reservations))

    def cost(self, R: dict[str, float], c: dict[str, float]) -> float:
        return self.first_stage_cost(R, c) + float(self.weight @ self.shortage(R, c))


def plan_from_values(d: IronstockData, R_raw: dict[str, float], c_raw: dict[str, float]):
    """Round a master solution to a plan: whole lots, floors, capacities within bounds."""
    R = {}
    for p, prod in d.products.items():
        value = max(R_raw[p], d.least_reserve(p))
        if prod.lot_size is not None:
            value = prod.existing_stock + prod.lot_size * round((value - prod.existing_stock) / prod.lot_size)
        R[p] = value
    c = {k: min(max(0.0, c_raw[k]), r.max_capacity) for k, r in d.reservations.items()}
    return R, c


# -- mpi-sppy --------------------------------------------------------------------------------


def active_scenarios(d: IronstockData) -> list[str]:
    """Scenarios that can cost anything: positive probability and some demand."""
    with_demand = {w for w, _ in d.pairs}
    return [w for w, s in d.scenarios.items() if s.probability > 0 and w in with_demand]


def bundles(names: list[str], size: int) -> dict[str, list[str]]:
    """Consecutive groups of `size` crisis scenarios, one subproblem each."""
    return {f"bundle{i // size:05d}": names[i:i + size] for i in range(0, len(names), size)}


def scenario_creator(name: str, inst: Instance, d: IronstockData, mass: float, groups: dict[str, list[str]]):
    """One subproblem for mpi-sppy: the first stage + the play-out of its crisis scenarios.

    mpi-sppy needs probabilities that sum to 1, but the listed crises carry only `mass`
    (the rest is "no crisis", which costs nothing beyond the first stage). So a subproblem
    whose crises carry P gets probability P/mass and its shortage is weighted by mass/P:
    P/mass × mass/P × p = p for each of its crises.
    """
    import mpisppy.utils.sputils as sputils

    from .formulation import build_model, first_stage_variables

    members = groups[name]
    P = sum(d.scenarios[w].probability for w in members)
    m = build_model(inst, d, members, weight=mass / P, compact=True)
    sputils.attach_root_node(m, m.holding + m.reservation + m.writeoff, first_stage_variables(m))
    m._mpisppy_probability = P / mass
    return m


def run(inst: Instance, options: SolveOptions, gap: float, max_iterations: int, bundle_size: int | None = None,
        comm=None) -> Outcome | None:
    """The L-shaped loop on every rank of `comm`; rank 0 returns the outcome, the others None."""
    with _silenced():  # mpi-sppy announces itself on stdout; stdout belongs to stockpile's own output
        import pyomo.contrib.benders.benders_cuts  # noqa: F401  (registers the cut block)
        from mpisppy import MPI
        from mpisppy.opt.lshaped import LShapedMethod

    comm = comm or MPI.COMM_WORLD
    start = time.perf_counter()
    d = IronstockData(inst)
    names = active_scenarios(d)
    mass = sum(d.scenarios[w].probability for w in names)
    size = bundle_size or default_bundle_size(len(names), comm.Get_size())
    groups = bundles(names, size)
    evaluator = Evaluator(d)
    deadline = None if options.time_limit is None else time.monotonic() + options.time_limit
    best: dict = {"cost": float("inf")}
    shown = [time.monotonic()]  # last progress line

    class GapConverger:
        """Stops the loop at the proven gap (same decision on every rank: all see the same master)."""

        def __init__(self, ls, rank, n_proc):
            self.ls = ls
            self.gap = float("inf")

        def convergence_value(self):
            values = [v.value for v in self.ls.root_vars]
            R, c = plan_from_values(d, *split(values))
            cost = evaluator.cost(R, c)
            if cost < best["cost"]:
                best.update(cost=cost, R=R, c=c)
            lower = self.ls._LShaped_bound
            self.gap = (best["cost"] - lower) / max(abs(best["cost"]), 1e-9)
            now = time.monotonic()
            if options.progress and comm.Get_rank() == 0 and now - shown[0] >= 10:
                shown[0] = now
                print(f"stockpile: L-shaped iteration {self.ls.iter + 1}: lower bound {lower:,.2f}, "
                      f"upper bound {best['cost']:,.2f}, gap {self.gap:.4%}", file=sys.stderr, flush=True)
            return self.gap

        def is_converged(self):
            late = deadline is not None and time.monotonic() > deadline
            return self.gap <= gap or bool(comm.bcast(late, root=0))

    products, lotted, reservations = list(d.products), [p for p in d.products if d.products[p].lot_size], list(d.reservations)

    def split(values):
        R_raw = dict(zip(products, values[:len(products)]))
        c_raw = dict(zip(reservations, values[len(products) + len(lotted):len(products) + len(lotted) + len(reservations)]))
        return R_raw, c_raw

    ls_options = {
        "root_solver": SOLVER, "sp_solver": SOLVER,
        "root_solver_options": _solver_options(options, mip=True),
        "sp_solver_options": _solver_options(options, mip=False),
        "valid_eta_lb": {b: 0.0 for b in groups},  # a shortage never pays: recourse ≥ 0
        "max_iter": max_iterations, "tol": 1e-9, "verbose": False,
    }
    with _silenced():
        ls = LShapedMethod(ls_options, list(groups), scenario_creator, mpicomm=comm,
                           scenario_creator_kwargs={"inst": inst, "d": d, "mass": mass, "groups": groups})
        built = time.perf_counter()
        ls.lshaped_algorithm(GapConverger)
    solved = time.perf_counter()
    if ls.cylinder_rank != 0:
        return None
    # the loop ends without asking the converger when no cut is left to add: price the last master too
    R, c = plan_from_values(d, *split([v.value for v in ls.root_vars]))
    cost = evaluator.cost(R, c)
    if cost < best["cost"]:
        best.update(cost=cost, R=R, c=c)
    lower = min(ls._LShaped_bound, best["cost"])
    out = Outcome(R=best["R"], c=best["c"], lower_bound=lower, upper_bound=best["cost"],
                  iterations=ls.iter + 1, converged=(best["cost"] - lower) <= gap * max(abs(best["cost"]), 1e-9),
                  ranks=comm.Get_size(), subproblems=len(groups))
    out.budget_marginal_value, out.storage_marginal_value = _master_duals(inst, ls.root, ls.root_vars, out, options)
    out.seconds = {"build": built - start, "solve": solved - built, "marginal_lp": time.perf_counter() - solved}
    return out


def default_bundle_size(scenarios: int, ranks: int) -> int:
    """About 8 subproblems per rank: fewer, larger LPs cost less Pyomo overhead per iteration."""
    return max(1, -(-scenarios // (8 * ranks)))


def _solver_options(options: SolveOptions, mip: bool) -> dict:
    opts = {"threads": 1, "output_flag": False}
    if mip:
        opts["mip_rel_gap"] = options.mip_gap / 10
    return opts


def _silenced():
    import contextlib
    import io

    return contextlib.redirect_stdout(io.StringIO())


def _master_duals(inst, root, root_vars, out: Outcome, options: SolveOptions):
    """Marginal values of budget and storage from the final master with the plan's first stage.

    The master holds the first-stage rules and the optimality cuts, an outer approximation
    of the expected shortage cost that is exact at the plan when the gap is closed. With the
    lots fixed at the plan's, its LP duals are those of the monolithic marginal LP wherever
    the cuts at the plan are the active pieces (docs/decomposition.md says when they differ).
    """
    from stockpile.solver import solve_model

    from .formulation import marginal_value

    settings = inst.settings
    for v in root.n.values() if hasattr(root, "n") else []:
        p = v.index()
        prod = inst_product(inst, p)
        v.fix(round((out.R[p] - prod.existing_stock) / prod.lot_size))
    sol = solve_model(root, SolveOptions(threads=1, mip_gap=options.mip_gap, progress=False,
                                         time_limit=options.time_limit))
    for v in root.n.values() if hasattr(root, "n") else []:
        v.unfix()
    return (marginal_value(root, "budget", settings.budget, sol),
            marginal_value(root, "storage", settings.storage_capacity, sol))


def inst_product(inst: Instance, pid: str):
    return next(p for p in inst["products"] if p.id == pid)


# -- running under mpiexec ---------------------------------------------------------------------


def mpiexec() -> str | None:
    """The MPI launcher: $STOCKPILE_MPIEXEC (e.g. "srun" on a cluster), else mpiexec on PATH or beside Python."""
    env = os.environ.get("STOCKPILE_MPIEXEC")
    if env:
        return env
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return shutil.which("mpiexec") or (here if os.path.exists(here) else None)


def mpi_available() -> bool:
    try:
        import mpi4py.MPI  # noqa: F401
    except Exception:  # no MPI library behind mpi4py: run serially
        return False
    return mpiexec() is not None


def solve_in_processes(inst: Instance, options: SolveOptions, gap: float, max_iterations: int,
                       bundle_size: int | None, processes: int) -> Outcome:
    """Start `mpiexec -n processes` on this module and read rank 0's outcome back."""
    with tempfile.TemporaryDirectory(prefix="stockpile-mpi-") as tmp:
        source, target = os.path.join(tmp, "in.pickle"), os.path.join(tmp, "out.pickle")
        with open(source, "wb") as fh:
            pickle.dump((inst, options, gap, max_iterations, bundle_size), fh)
        launcher = mpiexec().split()
        cmd = [*launcher, "-n", str(processes), sys.executable, "-m", "models.ironstock.decomposed", source, target]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=os.getcwd())
        if proc.returncode != 0 or not os.path.exists(target):
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"{' '.join(cmd[:3])} ... failed (exit {proc.returncode}): {' / '.join(tail)}")
        with open(target, "rb") as fh:
            return pickle.load(fh)


def main(argv: list[str]) -> int:
    source, target = argv
    with open(source, "rb") as fh:
        inst, options, gap, max_iterations, bundle_size = pickle.load(fh)
    out = run(inst, options, gap, max_iterations, bundle_size)
    if out is not None:
        with open(target + ".part", "wb") as fh:
            pickle.dump(out, fh)
        os.replace(target + ".part", target)
    return 0


if __name__ == "__main__":
    # run the importable module's main, so the pickled Outcome names models.ironstock.decomposed, not __main__
    from stockpile.models.ironstock.decomposed import main as _main

    sys.exit(_main(sys.argv[1:]))
