"""An interrupted examples run continues from its checkpoint and ends with the same table as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from featurelens.errors import FeaturelensError
from featurelens.dataset_examples import ExamplesState, collect_examples
from featurelens.dataset_examples.checkpoint import load_checkpoint, save_checkpoint
from featurelens.dataset_examples.image_inputs import write_table
from tests.conftest import as_in_a_terminal

LAYERS = ["relu1", "conv3"]
SETTINGS = dict(k=5, batch_size=32, limit=1500)


def table(result) -> list[tuple]:
    return [(e.layer, e.channel, e.kind, e.rank, e.score, e.item, e.y, e.x, e.box) for e in result.examples()]


def test_interrupt_then_resume_gives_the_uninterrupted_table(fashion, fashion_data, tmp_path: Path) -> None:
    full = collect_examples(fashion, "fashion-mnist:test", LAYERS, **SETTINGS)
    saved = tmp_path / "checkpoint.pt"
    batches = []

    def interrupt_after_13_batches(done: int, total: int) -> None:
        batches.append(done)
        if len(batches) == 13:
            raise KeyboardInterrupt

    partial = collect_examples(fashion, "fashion-mnist:test", LAYERS, **SETTINGS, checkpoint_every=5,
                           on_checkpoint=lambda state: save_checkpoint(state, saved), progress=interrupt_after_13_batches)
    assert partial.interrupted and partial.entries == 13 * 32  # interrupted in the progress call after batch 13
    state, problem = load_checkpoint(saved)
    assert problem is None and state.entries == 10 * 32  # the last checkpoint: after batch 10
    resumed = collect_examples(fashion, "fashion-mnist:test", LAYERS, **SETTINGS, resume=state)
    assert not resumed.interrupted and resumed.items_seen == full.items_seen == 1500
    assert table(resumed) == table(full)
    write_table(list(resumed.examples()), tmp_path / "a.parquet")
    write_table(list(full.examples()), tmp_path / "b.parquet")
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))


def test_a_checkpoint_from_other_settings_is_refused(fashion, fashion_data, tmp_path: Path) -> None:
    states: list[ExamplesState] = []
    collect_examples(fashion, "fashion-mnist:test", LAYERS, **SETTINGS, checkpoint_every=2, on_checkpoint=states.append)
    with pytest.raises(FeaturelensError, match="differs in k"):
        collect_examples(fashion, "fashion-mnist:test", LAYERS, k=6, batch_size=32, limit=1500, resume=states[0])


def test_a_damaged_checkpoint_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"half a checkpoint")
    state, problem = load_checkpoint(path)
    assert state is None and "unreadable checkpoint" in problem


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_cli_run_stopped_after_a_checkpoint_resumes_to_the_same_table(fashion, fashion_data, tmp_path: Path, stop) -> None:
    out = tmp_path / "out"
    args = ["examples", "--data", "fashion-mnist:test", "--model", "fashion-cnn", "--layers", ",".join(LAYERS),
            "--k", "5", "--batch-size", "8", "--limit", "2000", "--checkpoint-every", "2", "--out", str(out)]
    command = [sys.executable, "-c", "from featurelens.cli.app import main; main()", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # batches of 8: one thread beats two on a shared 2-core box
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               preexec_fn=as_in_a_terminal)
    wait_for(out / "checkpoint.pt", process)
    process.send_signal(stop)
    _, err = process.communicate(timeout=120)
    if stop == signal.SIGINT:  # Ctrl-C: keeps what finished, says how to continue, exit 130
        assert process.returncode == 130 and "rerun the same command to continue" in err, err
        assert (out / "examples.parquet").exists()
    state, _ = load_checkpoint(out / "checkpoint.pt")
    assert 0 < state.entries < 2000
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    assert f"resuming from {out / 'checkpoint.pt'}: {state.entries} entries done" in done.stderr
    assert not (out / "checkpoint.pt").exists()
    reference = collect_examples(fashion, "fashion-mnist:test", LAYERS, k=5, batch_size=8, limit=2000)
    write_table(list(reference.examples()), tmp_path / "reference.parquet")
    assert pq.read_table(out / "examples.parquet").equals(pq.read_table(tmp_path / "reference.parquet"))


def test_cli_checkpoint_from_other_settings_is_ignored_or_refused(main_cli, fashion, fashion_data, tmp_path: Path) -> None:
    states: list[ExamplesState] = []
    collect_examples(fashion, "fashion-mnist:test", ["conv3"], k=4, batch_size=16, limit=64, checkpoint_every=1, on_checkpoint=states.append)
    save_checkpoint(states[0], tmp_path / "checkpoint.pt")
    base = ["examples", "--data", "fashion-mnist:test", "--model", "fashion-cnn", "--layers", "conv3",
            "--limit", "64", "--out", str(tmp_path)]
    run = lambda *extra: main_cli(*base, *extra)

    code, err = run("--k", "5", "--resume")
    assert code == 2 and err.count("\n") == 1 and "made with other settings (k)" in err
    code, err = run("--k", "5")
    assert code == 0 and "ignoring the checkpoint" in err and "(k)" in err
    assert not (tmp_path / "checkpoint.pt").exists()  # the finished run removed it
