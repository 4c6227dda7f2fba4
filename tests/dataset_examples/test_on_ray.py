"""Examples on Ray (a local instance with 2 CPUs, `ray_local`): the table equals the local engine's exactly, even
when a worker is killed mid-job, after an interrupted driver resumes, and when a folder's bytes are shipped."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from featurelens.dataset_examples import ExamplesSettings, collect_examples, load_checkpoint, plan_examples
from featurelens.dataset_examples.on_ray import examples_stream
from featurelens.dataset_examples.run import plan_pass, run_pass
from featurelens.engine import Engine
from featurelens.errors import FeaturelensError
from featurelens.dataset_examples.image_inputs import write_table

from tests.dataset_examples.conftest import fashion_files

DATA = "fashion-mnist:test"
LAYERS = ["conv2", "conv3"]
K = 5


def table(result) -> list[tuple]:
    return [(e.layer, e.channel, e.kind, e.rank, e.score, e.item, e.y, e.x, e.box) for e in result.examples()]


@pytest.fixture(scope="module")
def local_result(fashion):
    """The local engine's pass over all 10 000 test images, with one torch thread as each Ray worker has."""
    if not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return collect_examples(fashion, DATA, LAYERS, k=K)
    finally:
        torch.set_num_threads(before)


def ray_workers_running(task: str) -> list[int]:
    """Process ids of this session's Ray workers running `task` now (Ray titles them 'ray::TASK')."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        if title == f"ray::{task}" and os.getpid() in ancestors(int(entry)):
            found.append(int(entry))
    return found


def ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
        chain.append(pid)
    return chain


def test_the_ray_table_equals_the_local_table(ray_local, fashion, local_result) -> None:
    shown = []
    result = plan_examples(fashion, DATA, LAYERS, ExamplesSettings(k=K, engine="ray")).run(
        progress=lambda done, total: shown.append((done, total)))
    assert result.items_seen == local_result.items_seen == 10_000 and not result.interrupted
    assert table(result) == table(local_result)
    assert result.skipped == local_result.skipped == []
    assert shown[-1] == (10_000, 10_000) and len(shown) > 2  # progress came while the workers worked


def test_a_worker_killed_mid_job_is_retried_and_the_table_stays_exact(ray_local, fashion, local_result) -> None:
    killed = []

    def kill_one_worker(done: int, total: int) -> None:
        running = ray_workers_running("rank_shard")
        if not killed and running and done < total:
            os.kill(running[0], signal.SIGKILL)
            killed.append(running[0])

    result = plan_examples(fashion, DATA, LAYERS, ExamplesSettings(k=K, engine="ray")).run(progress=kill_one_worker)
    assert killed, "no worker was running a shard to kill"
    assert not result.interrupted and table(result) == table(local_result)


def test_an_interrupted_driver_resumes_from_the_merged_shards(ray_local, fashion, local_result, tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.pt"
    settings = ExamplesSettings(k=K, engine="ray", checkpoint=checkpoint)

    saved_while_running = []

    def interrupt_halfway(done: int, total: int) -> None:
        if done >= total // 2:
            saved_while_running.append(load_checkpoint(checkpoint)[0].entries)
            raise KeyboardInterrupt

    first = plan_examples(fashion, DATA, LAYERS, settings).run(progress=interrupt_halfway)
    assert first.interrupted and saved_while_running[0] > 0  # merged shards were saved as they merged
    state, problem = load_checkpoint(checkpoint)
    assert problem is None and 0 < state.entries < 10_000 and state.entries % 64 == 0  # whole shards of whole batches

    plan = plan_examples(fashion, DATA, LAYERS, settings)
    assert plan.notes == [f"resuming from {checkpoint}: {state.entries} entries done"]
    resumed = plan.run()
    assert table(resumed) == table(local_result) and resumed.items_seen == 10_000
    assert not checkpoint.exists()
    # The checkpoint is the local engine's own format: the local engine continues it to the same table.
    assert table(collect_examples(fashion, DATA, LAYERS, k=K, resume=state)) == table(local_result)


@pytest.fixture(scope="module")
def folder_with_bad_files(tmp_path_factory) -> Path:
    """40 Fashion-MNIST images as PNG and JPEG in two subfolders, plus an empty file and a file that is not an image."""
    root = fashion_files(tmp_path_factory.mktemp("shirts"), 40, lambda i: f"{'a' if i < 25 else 'b'}/{i:03d}.{'png' if i % 3 else 'jpg'}")
    (root / "a" / "010x.png").write_bytes(b"")
    (root / "b" / "030x.jpg").write_bytes(b"not a picture")
    return root


@pytest.mark.parametrize("ship", [True, None], ids=["shipped", "read-where-it-lies"])
def test_a_folder_gives_the_local_table_and_skips_the_same_files(ray_local, fashion, folder_with_bad_files, ship) -> None:
    local = collect_examples(fashion, folder_with_bad_files, LAYERS, k=3, batch_size=8)
    plan = plan_pass(fashion, folder_with_bad_files, LAYERS, 3, batch_size=8)
    on_ray = run_pass(plan, stream=examples_stream(Engine("ray", workers=2), ship=ship))
    assert [(s.item, s.reason) for s in local.skipped] == [("a/010x.png", "UnidentifiedImageError: cannot identify image file"),
                                                          ("b/030x.jpg", "UnidentifiedImageError: cannot identify image file")]
    assert on_ray.skipped == local.skipped and on_ray.entries == local.entries == 42
    assert table(on_ray) == table(local)


def test_the_cli_on_ray_writes_the_local_table(ray_local, main_cli, fashion, tmp_path: Path) -> None:
    args = ["examples", "--data", DATA, "--model", "fashion-cnn", "--layers", "conv3", "--k", "4", "--limit", "640"]
    code, err = main_cli(*args, "--engine", "ray", "--workers", "2", "--out", str(tmp_path / "ray"))
    assert code == 0, err
    local = collect_examples(fashion, DATA, ["conv3"], k=4, limit=640)
    write_table(list(local.examples()), tmp_path / "local.parquet")
    assert pq.read_table(tmp_path / "ray" / "examples.parquet").equals(pq.read_table(tmp_path / "local.parquet"))


def test_a_python_iterable_is_refused_on_ray_at_plan_time(ray_local, fashion) -> None:
    with pytest.raises(FeaturelensError, match="read by the local engine only"):
        plan_examples(fashion, iter([torch.rand(1, 28, 28)]), "conv3", ExamplesSettings(engine="ray"))
