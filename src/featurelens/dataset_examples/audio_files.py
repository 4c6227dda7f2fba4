"""Writing audio examples: examples.parquet, summary.json, spectrograms, the clips and excerpts as WAV, and pages.

Layout of the output folder (links relative, so the pages play offline and when moved):

  examples.parquet                          one row per (layer, channel, kind, rank): step, peak, start, end in s
  summary.json                              settings, counts, what was done to awkward files, fields in time
  index.html, layer-<LAYER>.html            the pages: each clip's spectrogram with the excerpt outlined,
                                            an <audio> player for the excerpt and one for the whole clip;
  layer-<LAYER>-<N>.html                    a layer with many units (torchcrepe's 360 pitch bins) takes
                                            several pages, linked in order, a few hundred players each
  clips/<ENTRY>.wav, spectrograms/<ENTRY>.png   each example clip as the model heard it, and its spectrogram
  excerpts/<LAYER>/c<C>-<KIND><RANK>.wav    what the unit heard at its peak (trough)

It imports no result type: it reads the examples through the Protocols below, so imports run one way, result → files.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Protocol, Sequence

import numpy as np

from featurelens.dataset_examples.files import KIND_TITLES, layer_page_name, previous_examples
from featurelens.output.folder_run import replacing
from featurelens.output.images import safe_filename, to_pil
from featurelens.output.pages import page_template
from featurelens.output.spectrogram import spectrogram_picture

if TYPE_CHECKING:
    from featurelens.dataset_examples.rows import AudioExample
    from featurelens.geometry import TimeField
    from featurelens.models import LoadedModel


class AudioLayerRanking(Protocol):
    """What the writer reads of one layer (a `dataset_examples.audio_result.AudioLayerExamples`)."""

    layer: str
    channels: int
    field: TimeField


class AudioExamplesFigures(Protocol):
    """What the writer reads of clip examples (a `dataset_examples.audio_result.AudioExamplesResult`; the pages read its fields too)."""

    model: LoadedModel

    @property
    def layers(self) -> Sequence[AudioLayerRanking]: ...

    @property
    def sample_rate(self) -> int: ...

    def examples(self) -> Iterator[AudioExample]: ...

    def clip(self, index: int) -> np.ndarray: ...

    def log_mel(self, index: int, clip: np.ndarray | None = None) -> np.ndarray: ...

    def summary(self) -> dict: ...


def write_audio_examples(result: AudioExamplesFigures, out_dir: Path) -> Path:
    """Write everything for `result` under `out_dir`, replacing a previous examples result there; returns index.html's path."""
    with replacing(out_dir, "examples", legacy=previous_examples):
        return _write_all(result, out_dir)


def _write_all(result: AudioExamplesFigures, out_dir: Path) -> Path:
    rows = list(result.examples())
    write_audio_table(rows, out_dir / "examples.parquet")
    (out_dir / "summary.json").write_text(json.dumps(result.summary(), indent=2))
    write_example_sounds(result, rows, out_dir)
    pages = []
    template = page_template("dataset_examples/audio_layer.html.j2")
    for layer in result.layers:
        blocks = channel_blocks([row for row in rows if row.layer == layer.layer])
        for block in blocks:
            block["label"] = result.model.unit_label(layer.layer, block["channel"])
        chunks = page_chunks(blocks)
        links = [{"href": layer_part_name(layer.layer, n), "title": chunk_title(chunk)} for n, chunk in enumerate(chunks)]
        for n, chunk in enumerate(chunks):
            html = template.render(result=result, layer=layer, channels=chunk, field=layer.field, parts=links, part=n)
            (out_dir / links[n]["href"]).write_text(html)
        pages.append({"name": layer.layer, "page": links[0]["href"], "channels": layer.channels, "parts": len(chunks),
                      "field": layer.field.summary()})
    index = out_dir / "index.html"
    index.write_text(page_template("dataset_examples/audio_index.html.j2").render(result=result, pages=pages, summary=result.summary()))
    return index


PLAYERS_PER_PAGE = 256  # thousands of <audio> elements on one page take Chromium tens of seconds to lay out


def page_chunks(blocks: list[dict]) -> list[list[dict]]:
    """The channel blocks split into pages of at most `PLAYERS_PER_PAGE` players (at least one page, one block each)."""
    players = max((2 * sum(len(kind["examples"]) for kind in block["kinds"]) for block in blocks), default=1)
    per_page = max(1, PLAYERS_PER_PAGE // max(players, 1))
    return [blocks[i:i + per_page] for i in range(0, len(blocks), per_page)] or [[]]


def layer_part_name(layer: str, part: int) -> str:
    """Page `part` (from 0) of a layer: the first is the layer's page, the others `layer-<LAYER>-<N>.html` (N from 2)."""
    first = layer_page_name(layer)
    return first if part == 0 else f"{first.removesuffix('.html')}-{part + 1}.html"


def chunk_title(chunk: list[dict]) -> str:
    """How a page is named in the page links: its channels, and what they stand for ("0–20 · 31.7–39.1 Hz")."""
    if not chunk:
        return "no channels"
    first, last = chunk[0], chunk[-1]
    title = f"{first['channel']}–{last['channel']}" if len(chunk) > 1 else str(first["channel"])
    if first["label"] and last["label"]:
        title += f" · {first['label']}" if len(chunk) == 1 else f" · {first['label']} – {last['label']}"
    return title


def write_audio_table(rows: list[AudioExample], path: Path) -> Path:
    """The table as Parquet: layer, channel, kind, rank, score, item, label, step, peak, start, end, duration."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: [getattr(row, name) for row in rows] for name in
               ("layer", "channel", "kind", "rank", "score", "item", "label", "step", "peak", "start", "end", "duration")}
    types = {"channel": pa.int32(), "rank": pa.int32(), "step": pa.int32(), "score": pa.float32()}
    table = pa.table({name: pa.array(values, types.get(name)) for name, values in columns.items()})
    pq.write_table(table, path)
    return path


def clip_path(index: int) -> str:
    return f"clips/{index:07d}.wav"


def spectrogram_path(index: int) -> str:
    return f"spectrograms/{index:07d}.png"


def excerpt_path(row: AudioExample) -> str:
    return f"excerpts/{safe_filename(row.layer)}/c{row.channel:04d}-{row.kind}{row.rank:02d}.wav"


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    import soundfile

    soundfile.write(str(path), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16")


def write_example_sounds(result: AudioExamplesFigures, rows: list[AudioExample], out_dir: Path) -> None:
    """Each example clip once (WAV and spectrogram), then every excerpt cut from it."""
    by_index: dict[int, list[AudioExample]] = defaultdict(list)
    for row in rows:
        by_index[row.index].append(row)
    for folder in {out_dir / "clips", out_dir / "spectrograms"} | {(out_dir / excerpt_path(row)).parent for row in rows}:
        folder.mkdir(parents=True, exist_ok=True)
    rate = result.sample_rate
    for index, clip_rows in sorted(by_index.items()):
        audio = result.clip(index)
        _write_wav(out_dir / clip_path(index), audio, rate)
        to_pil(spectrogram_picture(result.log_mel(index, audio))).save(out_dir / spectrogram_path(index), compress_level=1)
        for row in clip_rows:
            _write_wav(out_dir / excerpt_path(row), audio[round(row.start * rate):round(row.end * rate)], rate)


def channel_blocks(rows: list[AudioExample]) -> list[dict]:
    """Template data: per channel, the top and the bottom clips with paths, caption and excerpt outline (in %)."""
    blocks: dict[int, dict] = {}
    for row in rows:
        block = blocks.setdefault(row.channel, {"channel": row.channel, "kinds": {}})
        kind = block["kinds"].setdefault(row.kind, {"kind": row.kind, "title": KIND_TITLES[row.kind], "examples": []})
        kind["examples"].append({
            "row": row, "clip": clip_path(row.index), "spectrogram": spectrogram_path(row.index), "excerpt": excerpt_path(row),
            "outline": {"left": 100 * row.start / row.duration, "width": 100 * (row.end - row.start) / row.duration},
        })
    return [{"channel": b["channel"], "kinds": [b["kinds"][k] for k in ("max", "min") if k in b["kinds"]], "label": None}
            for b in blocks.values()]
