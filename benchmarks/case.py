"""One benchmark case in a fresh process; prints one JSON line on stdout.

    python -m benchmarks.case engine INSTANCE OUT_DIR [--time-limit S] [--mip-gap G] [--threads N] [--mps DIR]
    python -m benchmarks.case floor MPS_DIR
    python -m benchmarks.case pulp INSTANCE OUT_DIR --solver cbc|highs [--time-limit S] [--mip-gap G]

`engine` runs the whole stockpile pipeline (load + validate, build, hand-off, solve,
extract, write). With --mps it also keeps every model handed to HiGHS (a multi-solve
model hands over several) and, after the timed run and the memory reading, writes each
as MPS with the options it was solved with. `floor` then times a fresh `highspy.Highs()`
reading and solving those files: what HiGHS alone needs for the same work.
Peak memory is this process's `ru_maxrss`.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def engine(args) -> dict:
    start = time.perf_counter()
    from stockpile import api, solver
    from stockpile.solver import SolveOptions

    imports = time.perf_counter() - start
    from stockpile import pipeline

    captured: list[tuple] = []  # (HighsLp or Highs, options) per HiGHS run, when --mps is given
    options_of: dict[int, dict] = {}  # id(Highs) -> the options it was made with
    split = {"compile": 0.0, "pass": 0.0, "solves": 0}
    original_compile, original_make = solver.compile_model, solver.make_highs

    def compile_model(model):
        compiled = original_compile(model)
        split["compile"] += compiled.seconds
        split["solves"] += 1
        return compiled

    def make_highs(compiled, options):
        t0 = time.perf_counter()
        h = original_make(compiled, options)
        split["pass"] += time.perf_counter() - t0
        if args.mps:
            opts = {"time_limit": options.time_limit, "mip_gap": options.mip_gap, "threads": options.threads,
                    "lp_method": options.lp_method}
            options_of[id(h)] = opts
            captured.append((compiled.lp, opts))
        return h

    solver.compile_model, solver.make_highs = compile_model, make_highs
    original_resolve = getattr(solver, "resolve_with_integers_fixed", None)
    if original_resolve is not None:
        # a re-solve of a kept HiGHS object (no new hand-off): keep that object, whose model
        # then is the LP with the integers fixed, and write it after the timed run
        def resolve_with_integers_fixed(sol):
            out = original_resolve(sol)
            split["solves"] += 1
            if args.mps and sol.kept is not None:
                h = sol.kept[0]
                captured.append((h, options_of.get(id(h), captured[-1][1] if captured else {})))
            return out

        solver.resolve_with_integers_fixed = resolve_with_integers_fixed
        if hasattr(pipeline, "resolve_with_integers_fixed"):
            pipeline.resolve_with_integers_fixed = resolve_with_integers_fixed
    options = SolveOptions(time_limit=args.time_limit, mip_gap=args.mip_gap, threads=args.threads, progress=False)
    start, cpu0 = time.perf_counter(), cpu_s() + children_cpu_s()
    result = api.solve(args.instance, options)
    solved = time.perf_counter()
    result.write(args.out)
    end = time.perf_counter()
    timings = dict(result.timings)
    row = {
        "status": result.status.value,
        "objective": result.objective,
        "mip_gap": result.mip_gap,
        "reason": result.reason,
        "variables": result.solver.get("variables"),
        "integer_variables": result.solver.get("integer_variables"),
        "constraints": result.solver.get("constraints"),
        "solves": split["solves"],
        "import_s": imports,
        "timings": timings,
        "compile_s": split["compile"],
        "pass_s": split["pass"],
        "write_s": end - solved,
        "engine_total_s": end - start,
        "engine_cpu_s": cpu_s() + children_cpu_s() - cpu0,  # worker processes too (rotation's per-product MIPs)
        "engine_peak_mb": peak_mb(),
    }
    if args.mps:
        import highspy

        folder = Path(args.mps)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("step*.mps"):
            old.unlink()
        steps = []
        for i, (lp, opts) in enumerate(captured):
            if isinstance(lp, highspy.Highs):
                h = lp
            else:
                h = highspy.Highs()
                h.setOptionValue("output_flag", False)
                h.passModel(lp)
            path = folder / f"step{i + 1}.mps"
            h.writeModel(str(path))
            steps.append({"file": path.name, **opts})
        (folder / "steps.json").write_text(json.dumps(steps, indent=1))
    return row


def floor(args) -> dict:
    """HiGHS alone: read each MPS file into a fresh Highs and solve it with the same options."""
    import highspy

    folder = Path(args.mps)
    steps = json.loads((folder / "steps.json").read_text())
    read_s = solve_s = 0.0
    cpu0 = cpu_s()
    objective = None
    statuses = []
    for step in steps:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        if step["time_limit"] is not None:
            h.setOptionValue("time_limit", float(step["time_limit"]))
        h.setOptionValue("mip_rel_gap", float(step["mip_gap"]))
        if step["threads"] is not None:
            h.setOptionValue("threads", int(step["threads"]))
        if step["lp_method"] != "choose":
            h.setOptionValue("solver", step["lp_method"])
        t0 = time.perf_counter()
        h.readModel(str(folder / step["file"]))
        t1 = time.perf_counter()
        h.run()
        t2 = time.perf_counter()
        read_s += t1 - t0
        solve_s += t2 - t1
        statuses.append(h.modelStatusToString(h.getModelStatus()))
        objective = h.getInfo().objective_function_value
    return {"highs_read_s": read_s, "highs_solve_s": solve_s, "highs_total_s": read_s + solve_s,
            "highs_cpu_s": cpu_s() - cpu0, "highs_peak_mb": peak_mb(), "highs_status": ";".join(statuses), "highs_objective": objective}


def pulp_case(args) -> dict:
    from . import pulp_sourcing

    def with_children() -> float:  # CBC runs as a child process
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cpu_s() + r.ru_utime + r.ru_stime

    cpu0 = with_children()
    row = pulp_sourcing.run(Path(args.instance), Path(args.out), args.solver, args.time_limit, args.mip_gap,
                            args.threads)
    row["engine_cpu_s"] = with_children() - cpu0
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    row["engine_peak_mb"] = max(peak_mb(), child)  # the larger of PuLP's process and CBC's
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.case")
    ap.add_argument("mode", choices=["engine", "floor", "pulp"])
    ap.add_argument("instance", nargs="?")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--mip-gap", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--mps", default=None)
    ap.add_argument("--solver", default="cbc")
    ap.add_argument("--max-memory-mb", type=float, default=None)
    args = ap.parse_args(argv)
    if args.max_memory_mb:  # fail cleanly (MemoryError) instead of exhausting the machine
        limit = int(args.max_memory_mb * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if args.mode == "floor":
        args.mps = args.mps or args.instance
    try:
        row = {"engine": engine, "floor": floor, "pulp": pulp_case}[args.mode](args)
    except MemoryError:
        row = {"status": "out of memory", "engine_peak_mb": peak_mb()}
    print("BENCH " + json.dumps(row, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
