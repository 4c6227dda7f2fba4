"""What a run returns and writes: scores that are the units' real values, crops that are the boxes, offline pages."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from featurelens.capture import capture_activations
from featurelens.data.fashion_mnist import load_fashion_mnist
from featurelens.dataset_examples import collect_examples
from featurelens.dataset_examples.files import write_examples
from featurelens.dataset_examples.image_inputs import crop_path, input_path

COLUMNS = [("layer", pa.string()), ("channel", pa.int32()), ("kind", pa.string()), ("rank", pa.int32()),
           ("score", pa.float32()), ("item", pa.int64()), ("y", pa.int32()), ("x", pa.int32()),
           ("x0", pa.int32()), ("y0", pa.int32()), ("x1", pa.int32()), ("y1", pa.int32())]


@pytest.fixture(scope="module")
def written(fashion, tmp_path_factory, fashion_data_module):
    out = tmp_path_factory.mktemp("examples")
    result = collect_examples(fashion, "fashion-mnist:test", ["conv2", "fc"], k=4, batch_size=50, limit=300)
    some = next(result.examples())
    projection = np.full((8, 8, 3), 200, np.uint8)
    index = write_examples(result, out, projections={(some.layer, some.channel, some.kind, some.rank): projection})
    return result, out, index, some


@pytest.fixture(scope="module")
def fashion_data_module():
    from featurelens.data import fashion_mnist

    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")


def test_table_has_the_documented_columns_and_one_row_per_example(written) -> None:
    result, out, _, _ = written
    table = pq.read_table(out / "examples.parquet")
    assert [(f.name, f.type) for f in table.schema] == COLUMNS
    assert table.num_rows == (64 + 10) * 2 * 4
    rows = table.to_pylist()
    assert {r["rank"] for r in rows} == {1, 2, 3, 4} and {r["kind"] for r in rows} == {"max", "min"}


def test_scores_positions_and_boxes_are_the_units_real_values(fashion, written) -> None:
    result, _, _, _ = written
    images, _ = load_fashion_mnist("test")
    layer = result.layer("conv2")
    for example in [e for e in result.examples() if e.layer == "conv2"][::37]:
        x = fashion.normalize(images[example.index : example.index + 1, None].float() / 255)
        act = capture_activations(fashion.module, x, ["conv2"])["conv2"][0, example.channel]
        extreme = act.max() if example.kind == "max" else act.min()
        # recomputed alone, not in a batch of 50: CPU convolutions may differ in the last bits
        assert act[example.y, example.x].item() == pytest.approx(example.score, rel=1e-5)
        assert extreme.item() == pytest.approx(example.score, rel=1e-5)
        assert example.box == layer.receptive_field.box(example.y, example.x)
    for rank in range(3):  # best first
        assert layer.ranked["max"].scores[0, rank] >= layer.ranked["max"].scores[0, rank + 1]
        assert layer.ranked["min"].scores[0, rank] <= layer.ranked["min"].scores[0, rank + 1]


def test_global_layers_crop_the_whole_input(written) -> None:
    result, _, _, _ = written
    fc = result.layer("fc")
    assert fc.receptive_field.method == "global"
    assert {e.box for e in result.examples() if e.layer == "fc"} == {(0, 0, 28, 28)}


def test_inputs_are_the_dataset_images_and_crops_are_their_boxes(written) -> None:
    result, out, _, _ = written
    images, _ = load_fashion_mnist("test")
    for example in list(result.examples())[::53]:
        whole = np.asarray(Image.open(out / input_path(example.index)))
        assert np.array_equal(whole, images[example.index].numpy())
        x0, y0, x1, y1 = example.box
        assert np.array_equal(np.asarray(Image.open(out / crop_path(example, result.inputs.size))), whole[y0:y1, x0:x1])


def test_pages_work_offline_and_show_top_and_bottom_of_every_channel(written) -> None:
    result, out, index, some = written
    pages = [index, out / "layer-conv2.html", out / "layer-fc.html"]
    for page in pages:
        html = page.read_text()
        links = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert links and not [link for link in links if "//" in link or link.startswith("/")]
        missing = [link for link in links if not (out / link).exists()]
        assert not missing, f"{page.name}: {missing[:3]}"
    index_html = index.read_text()
    assert 'href="layer-conv2.html"' in index_html and 'href="layer-fc.html"' in index_html
    conv2 = (out / "layer-conv2.html").read_text()
    assert conv2.count("<figure>") == 64 * 2 * 4 and conv2.count('class="outline"') == 64 * 2 * 4
    assert conv2.count('alt="projection"') == (1 if some.layer == "conv2" else 0)


def test_iterables_give_the_same_examples_as_the_dataset(fashion, fashion_data_module) -> None:
    """A one-shot generator of HWC colour arrays (converted to the model's grey) and a list of PIL images."""
    images, _ = load_fashion_mnist("test")
    reference = collect_examples(fashion, "fashion-mnist:test", ["conv3"], k=3, batch_size=16, limit=120)
    colour = (np.repeat(images[i].numpy()[:, :, None], 3, axis=2) for i in range(120))
    streamed = collect_examples(fashion, colour, ["conv3"], k=3, batch_size=16)
    pil_list = [Image.fromarray(images[i].numpy()) for i in range(120)]
    listed = collect_examples(fashion, pil_list, ["conv3"], k=3, batch_size=16)
    rows = lambda result: [(e.channel, e.kind, e.rank, e.index, e.score, e.y, e.x) for e in result.examples()]
    assert rows(streamed) == rows(reference) == rows(listed)
    winners = {e.index for e in streamed.examples()}
    assert set(streamed.inputs.cached) == winners  # a generator cannot be re-read: winners' images are kept, no more
    first = next(streamed.examples())
    assert np.array_equal(streamed.image(first.index)[:, :, 0], images[first.index].numpy())


def test_photos_on_efficientnet_at_a_small_size(lite0) -> None:
    result = collect_examples(lite0, "photos", ["_blocks.3", "_head_act"], k=2, batch_size=8, size=64)
    assert result.items_seen == 17 and result.inputs.size == 64
    head = result.layer("_head_act")
    assert (head.height, head.width) == (2, 2) and head.ranked["max"].scores.shape == (1280, 2)
    assert all(0 <= e.box[0] < e.box[2] <= 64 and 0 <= e.box[1] < e.box[3] <= 64 for e in result.examples())


def test_running_state_does_not_grow_with_the_dataset(fashion, fashion_data_module) -> None:
    small = collect_examples(fashion, "fashion-mnist:test", ["conv3"], k=4, batch_size=64, limit=128)
    large = collect_examples(fashion, "fashion-mnist:test", ["conv3"], k=4, batch_size=64, limit=2048)
    for result in (small, large):
        assert all(r.scores.shape == (128, 4) for r in result.state.ranked["conv3"].values())
        assert not result.state.cached_images  # the dataset can be re-read: no images are held
