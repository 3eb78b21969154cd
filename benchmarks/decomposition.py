"""python -m benchmarks.decomposition: ironstock monolithic vs decomposed (mpi-sppy) by scenario count.

Each (size, method) runs in a fresh subprocess: wall and CPU seconds (user + sys, of the
process and the MPI ranks it starts) and peak memory (the largest ru_maxrss of the process
and its ranks; with ranks > 1 add them up for the machine's total). Rows are merged into
benchmarks/decomposition.csv by (size, seed, method, ranks). `--table` prints it as Markdown.

    python -m benchmarks.decomposition --sizes national national-1k --methods monolithic decomposed
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from .generators import IRONSTOCK_STUDY, SIZES, prepare

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "decomposition.csv"
COLUMNS = ["size", "products", "scenarios", "periods", "seed", "method", "ranks", "status", "objective",
           "lower_bound", "gap", "iterations", "subproblems", "budget_marginal_value", "load_s", "solve_s",
           "wall_s", "cpu_s", "peak_mb", "time_limit", "date"]


def one(path: str, method: str, ranks: int, time_limit: float | None) -> dict:
    """Run in the child: load, solve (no play-out table), report figures as JSON."""
    import stockpile as sp
    from stockpile.solver import SolveOptions

    start = time.perf_counter()
    inst = sp.load(path)
    inst.settings = inst.settings.model_copy(update={"method": method, "processes": ranks, "playout": False})
    loaded = time.perf_counter()
    result = sp.solve(inst, SolveOptions(threads=1, time_limit=time_limit, progress=True))
    solved = time.perf_counter()
    dec = result.kpis.get("decomposition") or {}
    return {"status": result.status.value, "objective": result.objective,
            "lower_bound": dec.get("lower_bound"), "gap": result.mip_gap,
            "iterations": dec.get("iterations"), "subproblems": dec.get("subproblems"),
            "budget_marginal_value": result.kpis.get("budget_marginal_value"),
            "load_s": round(loaded - start, 2), "solve_s": round(solved - loaded, 2)}


def measure(path: Path, method: str, ranks: int, time_limit: float | None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.decomposition", "--one", str(path), method, str(ranks),
           str(time_limit or 0)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True, cwd=ROOT.parent)
    out, _ = proc.communicate()
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # this process's children only: one case per process
    row = {"status": f"error (exit {proc.returncode})"}
    for line in out.splitlines()[::-1]:
        if line.startswith("{"):
            row = json.loads(line)
            break
    row.update(wall_s=round(wall, 2), cpu_s=round(usage.ru_utime + usage.ru_stime, 2),
               peak_mb=round(usage.ru_maxrss / 1024, 1))
    return row


def merge(rows: list[dict]) -> None:
    old = []
    if OUT.exists():
        with open(OUT, newline="") as fh:
            old = list(csv.DictReader(fh))
    key = lambda r: (r["size"], str(r["seed"]), r["method"], str(r["ranks"]))  # noqa: E731
    new = {key(r): r for r in rows}
    merged = [r for r in old if key(r) not in new] + rows
    with open(OUT, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(merged)


def table() -> str:
    with open(OUT, newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols = ["size", "scenarios", "method", "ranks", "status", "objective", "gap", "iterations", "load_s",
            "solve_s", "wall_s", "cpu_s", "peak_mb"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if c == "objective" and v:
                v = f"{float(v):,.2f}"
            elif c == "gap" and v:
                v = f"{float(v):.2e}"
            cells.append(v)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decomposition", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["medium", "large", "national"])
    parser.add_argument("--methods", nargs="+", default=["monolithic", "decomposed"])
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--work", type=Path, default=ROOT / "_work")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--case", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        path, method, ranks, limit = args.case
        print(json.dumps(measure(Path(path), method, int(ranks), float(limit) or None)), flush=True)
        return 0
    if args.one:
        path, method, ranks, limit = args.one
        print(json.dumps(one(path, method, int(ranks), float(limit) or None)), flush=True)
        return 0
    if args.table:
        print(table())
        return 0
    for size in args.sizes:
        path, _ = prepare("ironstock", size, args.seed, args.work)
        dims = SIZES["ironstock"].get(size) or IRONSTOCK_STUDY[size]
        for method in args.methods:
            # a fresh measuring parent per case keeps RUSAGE_CHILDREN to that case alone
            proc = subprocess.run([sys.executable, "-m", "benchmarks.decomposition", "--case", str(path), method,
                                   str(args.ranks), str(args.time_limit or 0)],
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT.parent)
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row.update(size=size, seed=args.seed, method=method, ranks=args.ranks, time_limit=args.time_limit or "",
                       date=time.strftime("%Y-%m-%d"), **dims)
            merge([row])
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
