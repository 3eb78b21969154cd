"""The executors of stockpile.distributed on real engines: a Dask LocalCluster (2 worker
processes), the process pool and the calling process. Sweeps and batches give the same
output on each; a task that fails or whose worker dies is retried once and reported."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from stockpile import SolveOptions, batch, sweep
from stockpile.cli import main
from stockpile.distributed import (LOCAL, DaskCluster, InProcess, ProcessPool, Task, make_executor,
                                   run_tasks)
from stockpile.errors import InputError, SolveFailure
from test_sweep import fractile_doc

distributed = pytest.importorskip("distributed")

REPO = Path(__file__).resolve().parents[1]
IRONSTOCK = REPO / "instances" / "ironstock-nl" / "instance.yaml"
BUDGETS = "settings.budget=100,150,200,250,300,350,400,1e6"


@pytest.fixture(scope="module")
def cluster():
    """One LocalCluster of 2 worker processes for the whole module (starting one takes seconds)."""
    with DaskCluster(LOCAL, workers=2) as executor:
        yield executor


# -- tasks run by the workers (module-level, so that workers can import them) ---------------


def square(x):
    return x * x


def die_once(marker: str, x):
    """Kill the worker process running it the first time; return x*x the second time."""
    if not os.path.exists(marker):
        Path(marker).write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def raise_once(marker: str, x):
    if not os.path.exists(marker):
        Path(marker).write_text("raised once")
        raise RuntimeError("a passing failure")
    return x * x


def always_raise(x):
    raise ValueError(f"point {x} cannot be solved")


# -- the executor interface -----------------------------------------------------------------


def _run(executor, tasks):
    events = []
    outcomes = run_tasks(executor, tasks, events.append)
    return outcomes, events


@pytest.mark.parametrize("which", ["in-process", "pool", "dask"])
def test_every_task_ends_once_and_a_passing_failure_is_retried(which, cluster, tmp_path):
    executor = {"in-process": InProcess, "pool": lambda: ProcessPool(2), "dask": lambda: cluster}[which]()
    tasks = [Task(f"t{i}", square, (i,)) for i in range(5)]
    tasks.append(Task("flaky", raise_once, (str(tmp_path / "marker"), 7)))
    tasks.append(Task("broken", always_raise, (3,)))
    try:
        outcomes, events = _run(executor, tasks)
    finally:
        if which == "pool":
            executor.close()
    assert [outcomes[f"t{i}"].value for i in range(5)] == [0, 1, 4, 9, 16]
    assert all(outcomes[f"t{i}"].attempts == 1 for i in range(5))
    assert outcomes["flaky"].ok and outcomes["flaky"].value == 49 and outcomes["flaky"].attempts == 2
    assert outcomes["flaky"].failures == ["RuntimeError: a passing failure"]
    broken = outcomes["broken"]
    assert not broken.ok and broken.attempts == 2, "retried once, then reported"
    assert broken.error == "ValueError: point 3 cannot be solved"
    done = [e for e in events if e.kind == "done"]
    retries = [e for e in events if e.kind == "retry"]
    assert sorted(e.key for e in done) == sorted(t.key for t in tasks), "each task reported done exactly once"
    assert sorted(e.key for e in retries) == ["broken", "flaky"]
    assert done[-1].progress.done == 7 and done[-1].progress.failed == 1 and done[-1].progress.retried == 2


@pytest.mark.parametrize("which", ["pool", "dask"])
def test_a_task_whose_worker_dies_is_retried_and_reported(which, cluster, tmp_path):
    executor = ProcessPool(2) if which == "pool" else cluster
    tasks = [Task(f"t{i}", square, (i,)) for i in range(4)]
    tasks.insert(1, Task("victim", die_once, (str(tmp_path / "marker"), 5)))
    try:
        outcomes, events = _run(executor, tasks)
    finally:
        if which == "pool":
            executor.close()
    assert outcomes["victim"].ok and outcomes["victim"].value == 25
    assert [outcomes[f"t{i}"].value for i in range(4)] == [0, 1, 4, 9]
    retries = [e for e in events if e.kind == "retry"]
    assert "victim" in {e.key for e in retries}
    words = "worker died" if which == "dask" else "worker process stopped"
    assert all(words in e.error for e in retries), [e.error for e in retries]
    assert len([e for e in events if e.kind == "done"]) == 5


def test_progress_counts_and_time_left():
    tasks = [Task(f"t{i}", square, (i,)) for i in range(3)]
    _, events = _run(InProcess(), tasks)
    texts = [e.progress.text() for e in events]
    assert texts[0].startswith("[1/3, failures 0, ~") and texts[0].endswith("s left]")
    assert texts[-1] == "[3/3, failures 0]"


def test_executor_choice_and_bad_options():
    assert isinstance(make_executor(None, 1, 5), InProcess)
    assert isinstance(make_executor(None, None, 1), InProcess)
    pool = make_executor(None, 2, 5)
    assert isinstance(pool, ProcessPool) and pool.workers == 2
    with pytest.raises(InputError, match="--workers applies to the process pool"):
        make_executor("tcp://127.0.0.1:1", 2, 5)
    with pytest.raises(InputError, match="expected 'local' or a scheduler address"):
        make_executor(" ", None, 5)


def test_unreachable_scheduler_is_a_clear_error(monkeypatch):
    import socket

    from stockpile import distributed as dist

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(dist, "CONNECT_SECONDS", 2.0)
    with pytest.raises(SolveFailure, match=f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"):
        make_executor(f"tcp://127.0.0.1:{port}", None, 5)


# -- sweeps ---------------------------------------------------------------------------------


def comparable(folder: Path) -> dict:
    """A results folder's content without the measured times, which differ from run to run."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(folder).as_posix()
        if path.name in ("report.html", "results.xlsx"):
            continue  # drawn from the tables compared here; they show the measured times too
        if rel == "sweep.csv" or rel == "batch.csv":
            frame = pd.read_csv(path, keep_default_na=False)
            out[rel] = frame.drop(columns=["solve_seconds"]).to_dict("list")
        elif path.name == "summary.json":
            summary = json.loads(path.read_text())
            summary.pop("timings"), summary.pop("solve_seconds")
            out[rel] = summary
        else:
            out[rel] = path.read_bytes()
    return out


def test_sweep_output_is_identical_on_every_back_end(cluster, write_instance, tmp_path):
    """Budget 100..400 EUR buys R = budget/2 masks; 1e6 buys the unconstrained R = 200
    (see test_sweep.fractile_doc): the same rows and folders whichever way the points ran."""
    path = write_instance(fractile_doc())
    ran = {
        "in-process": sweep.run(path, [BUDGETS], tmp_path / "serial", workers=1),
        "pool": sweep.run(path, [BUDGETS], tmp_path / "pool", workers=2),
        "dask": sweep.run(path, [BUDGETS], tmp_path / "dask", executor=cluster),
    }
    reference = comparable(tmp_path / "serial")
    assert len([k for k in reference if k.endswith("summary.json")]) == 8
    for name in ("pool", "dask"):
        assert comparable(tmp_path / name) == reference, name
        assert ran[name].exit_code == 0 and ran[name].folders == 8
    assert ran["dask"].frame["reserve.mask"].tolist() == pytest.approx([50, 75, 100, 125, 150, 175, 200, 200])


def test_sweep_on_local_cluster_from_the_cli(write_instance, tmp_path):
    path = write_instance(fractile_doc())
    out = tmp_path / "cli"
    result = CliRunner().invoke(main, ["sweep", str(path), "--set", "settings.budget=100,300,1e6", "--out", str(out),
                                       "--scheduler", "local", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "[3/3, failures 0] " in result.output
    frame = pd.read_csv(out / "sweep.csv")
    assert frame["objective"].tolist() == pytest.approx([450, 300, 250])


def test_sweep_through_a_running_scheduler_by_address(cluster, write_instance, tmp_path):
    """--scheduler ADDRESS connects to a scheduler started elsewhere (here: the module's cluster)."""
    path = write_instance(fractile_doc())
    address = cluster.client.scheduler.address
    out = tmp_path / "remote"
    result = CliRunner().invoke(main, ["sweep", str(path), "--set", "settings.budget=100,300", "--out", str(out),
                                       "--scheduler", address])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out / "sweep.csv")["objective"].tolist() == pytest.approx([450, 300])


# -- batches --------------------------------------------------------------------------------


def batch_folder(root: Path) -> Path:
    """Four instances: two solvable (objectives 250 and 450, see test_sweep.fractile_doc), one
    infeasible (a policy floor of 100 masks costs 200 EUR, the budget is 100), one invalid."""
    folder = root / "instances"
    folder.mkdir()
    free = fractile_doc()
    tight = fractile_doc()
    tight["settings"] = {"budget": 100}
    floor = fractile_doc()
    floor["settings"] = {"budget": 100}
    floor["products"][0].update(baseline_demand=10, min_cover_periods=10)
    bad = fractile_doc()
    bad["settings"] = {"budget": -1}
    (folder / "free.yaml").write_text(yaml.safe_dump(free))
    (folder / "floor.yml").write_text(yaml.safe_dump(floor))
    (folder / "tight").mkdir()
    (folder / "tight" / "instance.yaml").write_text(yaml.safe_dump(tight))
    (folder / "bad.json").write_text(json.dumps(bad))
    (folder / "notes.txt").write_text("not an instance")
    return folder


def test_batch_rows_folders_and_exit_code(cluster, tmp_path):
    folder = batch_folder(tmp_path)
    ran = {
        "in-process": batch.run(folder, tmp_path / "serial", workers=1),
        "pool": batch.run(folder, tmp_path / "pool", workers=2),
        "dask": batch.run(folder, tmp_path / "dask", executor=cluster),
    }
    frame = ran["dask"].frame.set_index("instance")
    assert list(frame.index) == ["bad", "floor", "free", "tight"]
    assert frame.loc["free", "objective"] == pytest.approx(250)
    assert frame.loc["tight", "objective"] == pytest.approx(450)
    assert frame.loc["floor", "status"] == "infeasible" and "200 EUR" in frame.loc["floor", "reason"]
    assert frame.loc["bad", "status"] == "invalid" and "budget" in frame.loc["bad", "reason"]
    assert ran["dask"].exit_code == 2 and ran["dask"].folders == 3
    assert (tmp_path / "dask" / "tight" / "reserve.csv").is_file()
    assert not (tmp_path / "dask" / "bad").exists()
    reference = comparable(tmp_path / "serial")
    for name in ("pool", "dask"):
        assert comparable(tmp_path / name) == reference, name


def test_batch_cli_on_local_cluster(tmp_path):
    folder = batch_folder(tmp_path)
    (folder / "bad.json").unlink()
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["batch", str(folder), "--out", str(out), "--scheduler", "local",
                                       "--workers", "2"])
    assert result.exit_code == 1, result.output  # floor is infeasible
    assert "[3/3, failures 0] " in result.output
    assert pd.read_csv(out / "batch.csv")["status"].tolist() == ["infeasible", "optimal", "optimal"]


def test_batch_of_an_empty_or_missing_folder_is_a_clear_error(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["batch", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no instance in it" in result.output
    result = runner.invoke(main, ["batch", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no such folder" in result.output
    assert "Traceback" not in result.output


# -- last, as its cluster has one worker until the nanny has restarted the killed one --------


def test_worker_killed_mid_sweep(cluster, tmp_path):
    """A worker process killed while it solves a point: that point is reported, retried on a
    live worker, and the output is complete and the same as a serial run's."""
    sets = ["settings.budget=4e6,6e6,8e6,10e6,12e6,14e6"]
    options = SolveOptions(mip_gap=1e-6)
    client = cluster.client
    killed, events = [], []

    def kill_a_busy_worker(event):
        events.append(event)
        if killed or event.kind != "done":
            return
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(busy[0])

    result = sweep.run(IRONSTOCK, sets, tmp_path / "dask", options, executor=cluster, on_event=kill_a_busy_worker)
    assert killed, "no worker was busy when the first point came back"
    # The kill lands on the point the worker solves (KilledWorker: a retry, and a notice) or,
    # when that point has just finished, on its result not yet fetched (Dask computes it again:
    # a notice). Either way the loss is reported.
    reported = [e for e in events if e.kind in ("retry", "notice")]
    assert reported, "the lost worker was not reported"
    assert all("worker died" in e.error for e in events if e.kind == "retry")
    assert any(killed[0] in e.error for e in events if e.kind == "notice")
    assert len([e for e in events if e.kind == "done"]) == 6
    assert result.exit_code == 0 and result.folders == 6
    sweep.run(IRONSTOCK, sets, tmp_path / "serial", options, workers=1)
    assert comparable(tmp_path / "dask") == comparable(tmp_path / "serial")
