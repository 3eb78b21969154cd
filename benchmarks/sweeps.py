"""python -m benchmarks.sweeps: one 64-point sweep on each executor, wall time and overhead.

The grid: the shipped ironstock-nl instance, budget 8 values × the mask's shortage penalty
8 values (64 MIPs of the same size, one HiGHS thread each). Each back-end runs in a fresh
subprocess so that imports and process start-up are counted where they happen:
  serial  every point in the calling process (the floor: no parallelism, no overhead);
  pool    the process pool (`--workers 2`, the default back-end);
  dask    a Dask LocalCluster of 2 worker processes (`--scheduler local --workers 2`).
Figures: wall seconds from the call to sweep.run to its return (cluster or pool start
included), CPU seconds of this process and of every worker process (nannies and the fork
server included), the wall and CPU seconds the points took inside the workers (sums), and
two overheads per point:
    wall: (wall × workers − Σ in-point wall seconds) / points
          the worker time per point that went to anything but solving (start-up,
          transfer, writing, idle workers at the end);
    CPU:  (CPU of all processes − Σ in-point CPU seconds) / points
          the work per point spent outside the solves; on a machine shared with other
          jobs this is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
INSTANCE = PROJECT / "instances" / "ironstock-nl" / "instance.yaml"
BUDGETS = "settings.budget=4e6,6e6,8e6,10e6,12e6,14e6,16e6,18e6"
PENALTIES = "products.ffp2_mask.shortage_penalty=5,8,10,12,15,20,25,30"
BACKENDS = ("serial", "pool", "dask")
DEFAULT = ("pool", "dask")  # serial on request: Σ in-worker seconds already gives the solving time


def _descendant_cpu() -> float:
    """user+sys seconds of every live descendant process (pool and Dask workers, nannies)."""
    import psutil

    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def measure(backend: str, workers: int, out: Path) -> dict:
    """Run the sweep on one back-end in this process; return its figures."""
    from stockpile import SolveOptions, sweep
    from stockpile.distributed import make_executor

    in_worker: list[float] = []
    in_worker_cpu: list[float] = []
    worker_cpu: list[float] = []

    def seen(event):
        if event.kind == "done" and event.outcome.ok:
            in_worker.append(event.outcome.worker_seconds)
            in_worker_cpu.append(event.outcome.worker_cpu_seconds)

    start = time.perf_counter()
    if backend == "serial":
        executor = make_executor(None, 1, 64)
    elif backend == "pool":
        executor = make_executor(None, workers, 64)
    else:
        executor = make_executor("local", workers, 64)
    try:
        result = sweep.run(INSTANCE, [BUDGETS, PENALTIES], out, SolveOptions(mip_gap=1e-4), executor=executor,
                           on_event=seen)
        worker_cpu.append(_descendant_cpu())  # before the workers stop
    finally:
        executor.close()
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF)
    used = 1 if backend == "serial" else workers
    points = len(result.frame)
    return {
        "backend": backend, "workers": used, "points": points,
        "solved": int(result.frame["status"].isin(["optimal", "feasible"]).sum()),
        "wall_seconds": round(wall, 2),
        "cpu_seconds_main": round(own.ru_utime + own.ru_stime, 2),
        "cpu_seconds_workers": round(worker_cpu[0], 2),
        "in_worker_seconds": round(sum(in_worker), 2),
        "in_worker_cpu_seconds": round(sum(in_worker_cpu), 2),
        "overhead_per_point": round((wall * used - sum(in_worker)) / points, 3),
        # CPU spent on anything but the points' own solves (imports, start-up, transfer,
        # writing, the scheduler), per point: unlike wall time, hardly moved by other load
        "cpu_overhead_per_point": round((own.ru_utime + own.ru_stime + worker_cpu[0] - sum(in_worker_cpu)) / points,
                                        3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=BACKENDS, help="run one back-end here (used by the driver)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--compare", nargs="+", choices=BACKENDS, default=list(DEFAULT),
                        help="back-ends the driver runs, each in its own subprocess")
    args = parser.parse_args(argv)
    if args.backend:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(measure(args.backend, args.workers, Path(tmp) / "sweep")))
        return
    rows = []
    for backend in args.compare:
        done = subprocess.run([sys.executable, "-m", "benchmarks.sweeps", "--backend", backend,
                               "--workers", str(args.workers)], cwd=PROJECT, capture_output=True, text=True,
                              check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print("| back-end | workers | points solved | wall s | CPU s (main + workers) | Σ in-point wall s | "
          "Σ in-point CPU s | overhead per point, wall s | overhead per point, CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['backend']} | {r['workers']} | {r['solved']}/{r['points']} | {r['wall_seconds']:.1f} | "
              f"{r['cpu_seconds_main']:.1f} + {r['cpu_seconds_workers']:.1f} | {r['in_worker_seconds']:.1f} | "
              f"{r['in_worker_cpu_seconds']:.1f} | {r['overhead_per_point']:.3f} | "
              f"{r['cpu_overhead_per_point']:.3f} |")


if __name__ == "__main__":
    main()
