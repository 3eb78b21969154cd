"""python -m benchmarks: time every model at every size against HiGHS alone.

Each case runs in a fresh subprocess (so peak memory and import costs are per case):
  1. the stockpile pipeline on generated instance files (engine row),
  2. HiGHS alone on the MPS files of the very models the engine handed over (floor),
  3. for sourcing, optionally the same model written in PuLP (pulp+cbc, pulp+highs rows).
Rows are merged into the results CSV by (model, size, seed, tool), so cases can be run
one at a time. `--table` prints the Markdown table of a results CSV.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from .generators import KINDS, SIZE_NAMES, prepare

ROOT = Path(__file__).resolve().parent
PROJECT = ROOT.parent

COLUMNS = [
    "model", "size", "seed", "tool", "dims", "variables", "integer_variables", "constraints", "solves",
    "status", "objective", "mip_gap",
    "load_s", "build_s", "compile_s", "pass_s", "handoff_s", "solve_s", "extract_s", "other_s", "write_s",
    "untimed_s",
    "engine_total_s", "engine_cpu_s", "engine_peak_mb",
    "highs_read_s", "highs_solve_s", "highs_total_s", "highs_cpu_s", "highs_peak_mb", "highs_objective",
    "ratio", "overhead_s", "time_limit", "mip_gap_limit", "threads", "machine", "python", "highspy", "pyomo",
    "date",
]


def machine() -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    from importlib.metadata import version

    info = {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_gb, 1) if mem_gb else None,
            "python": platform.python_version()}
    for pkg in ("highspy", "pyomo", "pulp", "pandas", "pydantic", "numpy", "scipy"):
        try:
            info[pkg] = version(pkg)
        except Exception:
            info[pkg] = None
    return info


def _run(cmd: list[str], timeout: float) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=PROJECT, env=env)
    except subprocess.TimeoutExpired:
        return {"status": f"killed after {timeout:.0f}s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return {"status": f"crashed (exit {proc.returncode}): {tail[:200]}"}


def _num(x):
    return None if x is None else float(x)


def run_case(kind: str, size: str, args, info: dict) -> list[dict]:
    work = Path(args.work)
    path, dims = prepare(kind, size, args.seed, work)
    folder = path.parent
    base = {"model": kind, "size": size, "seed": args.seed, "dims": dims, "time_limit": args.time_limit,
            "mip_gap_limit": args.mip_gap, "threads": args.threads, "machine":
            f"{info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB", "python": info["python"],
            "highspy": info["highspy"], "pyomo": info["pyomo"], "date": time.strftime("%Y-%m-%d %H:%M")}
    opts = ["--mip-gap", str(args.mip_gap)]
    if args.time_limit:
        opts += ["--time-limit", str(args.time_limit)]
    if args.threads:
        opts += ["--threads", str(args.threads)]
    if args.max_memory_mb:
        opts += ["--max-memory-mb", str(args.max_memory_mb)]
    wall = (args.time_limit or 600) * 4 + 300
    py = [sys.executable, "-m", "benchmarks.case"]
    rows = []

    mps = folder / "mps"
    cmd = py + ["engine", str(path), str(folder / "out-engine"), *opts]
    if not args.no_floor:
        cmd += ["--mps", str(mps)]
    say(f"{kind} {size}: stockpile ...")
    e = _run(cmd, wall)
    row = dict(base, tool="stockpile", **_engine_columns(e))
    if not args.no_floor and e.get("status") in ("optimal", "feasible"):
        say(f"{kind} {size}: HiGHS alone ...")
        f = _run(py + ["floor", str(mps)] + (["--max-memory-mb", str(args.max_memory_mb)] if args.max_memory_mb else []),
                 wall)
        for key in ("highs_read_s", "highs_solve_s", "highs_total_s", "highs_cpu_s", "highs_peak_mb", "highs_objective"):
            row[key] = f.get(key)
        _ratio(row)
    rows.append(row)
    say(f"{kind} {size}: {row['status']}, total {_fmt(row.get('engine_total_s'))}s, "
        f"HiGHS alone {_fmt(row.get('highs_total_s'))}s, ratio {_fmt(row.get('ratio'))}")

    if kind == "sourcing" and size in args.pulp_sizes:
        for solver in ("cbc", "highs"):
            say(f"{kind} {size}: PuLP + {solver} ...")
            p = _run(py + ["pulp", str(path), str(folder / f"out-pulp-{solver}"), "--solver", solver, *opts], wall)
            prow = dict(base, tool=f"pulp+{solver}", **_engine_columns(p))
            for key in ("highs_read_s", "highs_solve_s", "highs_total_s", "highs_cpu_s", "highs_peak_mb", "highs_objective"):
                prow[key] = row.get(key)
            _ratio(prow)
            rows.append(prow)
            say(f"{kind} {size}: PuLP + {solver}: {prow['status']}, objective {prow.get('objective')}, "
                f"total {_fmt(prow.get('engine_total_s'))}s")
    return rows


def _engine_columns(e: dict) -> dict:
    t = e.get("timings") or {}
    known = ("load", "build", "handoff", "solve", "extract")
    out = {k: e.get(k) for k in ("status", "objective", "mip_gap", "variables", "integer_variables", "constraints",
                                 "solves", "compile_s", "pass_s", "write_s", "engine_total_s", "engine_cpu_s",
                                 "engine_peak_mb")}
    for k in known:
        out[f"{k}_s"] = t.get(k)
    out["other_s"] = sum(v for k, v in t.items() if k not in known) if t else None
    if t and out.get("engine_total_s") is not None:  # lazy imports, loading values back, glue
        out["untimed_s"] = max(0.0, out["engine_total_s"] - sum(t.values()) - (out.get("write_s") or 0.0))
    return out


def _ratio(row: dict) -> None:
    total, floor = _num(row.get("engine_total_s")), _num(row.get("highs_total_s"))
    if total is not None and floor:
        row["ratio"] = total / floor
        row["overhead_s"] = total - floor


def _fmt(x) -> str:
    return "-" if x is None else f"{float(x):.2f}"


def say(text: str) -> None:
    print(f"benchmarks: {text}", file=sys.stderr, flush=True)


def merge(out: Path, rows: list[dict], fresh: bool) -> list[dict]:
    """Replace rows of the same (model, size, seed, tool) in the CSV, keep the others."""
    old = []
    if out.is_file() and not fresh:
        with open(out, newline="", encoding="utf-8") as fh:
            old = list(csv.DictReader(fh))
    key = lambda r: (r["model"], r["size"], str(r["seed"]), r["tool"])  # noqa: E731
    new_keys = {key(r) for r in rows}
    merged = [r for r in old if key(r) not in new_keys] + rows
    order = {k: i for i, k in enumerate(KINDS)}
    sizes = {s: i for i, s in enumerate(SIZE_NAMES)}
    merged.sort(key=lambda r: (order.get(r["model"], 9), sizes.get(r["size"], 9), str(r["seed"]), r["tool"] != "stockpile",
                               r["tool"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in merged:
            w.writerow({k: _cell(r.get(k)) for k in COLUMNS})
    return merged


def _cell(v):
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e6 else f"{v:.10g}"
    return "" if v is None else v


def table(path: Path) -> str:
    """Markdown table of a results CSV."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    def f(r, k, digits=2):
        v = r.get(k)
        if v in (None, ""):
            return "-"
        return f"{float(v):.{digits}f}"

    lines = ["| model | size | tool | vars (int) | cons | status | load | build | compile | pass | solve | "
             "extract | other | write | untimed | total s | CPU s | HiGHS alone s | HiGHS CPU s | ratio | peak MB |",
             "|" + "---|" * 21]
    for r in rows:
        vars_ = f"{r['variables']} ({r['integer_variables']})" if r.get("variables") else "-"
        lines.append(" | ".join([
            f"| {r['model']}", r["size"], r["tool"], vars_, r.get("constraints") or "-", r["status"],
            f(r, "load_s"), f(r, "build_s"), f(r, "compile_s"), f(r, "pass_s"), f(r, "solve_s"), f(r, "extract_s"),
            f(r, "other_s"), f(r, "write_s"), f(r, "untimed_s"), f(r, "engine_total_s"), f(r, "engine_cpu_s"), f(r, "highs_total_s"),
            f(r, "highs_cpu_s"), f(r, "ratio"),
            f(r, "engine_peak_mb", 0)]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=list(KINDS), choices=KINDS, metavar="MODEL",
                    help=f"models to run (default: all of {', '.join(KINDS)})")
    ap.add_argument("--sizes", nargs="+", default=list(SIZE_NAMES), choices=SIZE_NAMES, metavar="SIZE",
                    help=f"sizes to run (default: all of {', '.join(SIZE_NAMES)})")
    ap.add_argument("--seed", type=int, default=1, help="instance generator seed (default 1)")
    ap.add_argument("--time-limit", type=float, default=600, help="seconds per case (default 600)")
    ap.add_argument("--mip-gap", type=float, default=1e-4, help="relative MIP gap (default 1e-4)")
    ap.add_argument("--threads", type=int, default=None, help="HiGHS threads (default: HiGHS's choice)")
    ap.add_argument("--out", default=str(ROOT / "results.csv"), help="results CSV (rows are merged in)")
    ap.add_argument("--fresh", action="store_true", help="overwrite the results CSV instead of merging")
    ap.add_argument("--work", default=str(ROOT / "_work"), help="folder for generated instances and outputs")
    ap.add_argument("--no-floor", action="store_true", help="skip the HiGHS-alone floor")
    ap.add_argument("--pulp-sizes", nargs="*", default=["small", "medium"], choices=SIZE_NAMES, metavar="SIZE",
                    help="sourcing sizes also solved with PuLP (CBC and HiGHS); default small medium")
    ap.add_argument("--max-memory-mb", type=float, default=None,
                    help="address-space limit per case (default: 80%% of the machine's memory)")
    ap.add_argument("--table", action="store_true", help="print the Markdown table of --out and exit")
    args = ap.parse_args(argv)
    if args.table:
        print(table(Path(args.out)))
        return 0
    if args.max_memory_mb is None:
        info_mem = machine().get("memory_gb")
        args.max_memory_mb = info_mem * 1024 * 0.8 if info_mem else None
    if "pulp" not in sys.modules:
        try:
            import pulp  # noqa: F401
        except ImportError:
            say("PuLP is not installed (pip install '.[bench]'): skipping the PuLP comparison")
            args.pulp_sizes = []
    info = machine()
    rows = []
    for kind in args.models:
        for size in args.sizes:
            rows.extend(run_case(kind, size, args, info))
            merge(Path(args.out), rows, args.fresh)  # after every case, so a long run keeps what it has
    say(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
