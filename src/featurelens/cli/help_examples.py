"""The examples that end every command's --help: two or three lines a newcomer can paste, in the README's shapes.

tests/test_readme.py runs each for real (quick mode) in a folder after `featurelens samples samples`."""

from __future__ import annotations

EXAMPLES: dict[str, list[str]] = {
    "": [
        "featurelens layers --model fashion-cnn",
        "featurelens render conv3:0..15 --model fashion-cnn --steps 128",
        "featurelens dream samples/cat.jpg --objective _blocks.8 --out dream.png",
    ],
    "layers": [
        "featurelens layers",
        "featurelens layers --model fashion-cnn --json",
    ],
    "render": [
        "featurelens render conv3:0..15 --model fashion-cnn --steps 128",
        "featurelens render _blocks.8:0..7 --steps 256 --out render",
        'featurelens render logit:"Egyptian cat" --param maco --out cat',
    ],
    "overview": [
        "featurelens overview --model fashion-cnn --units-per-layer 8",
        "featurelens overview --units-per-layer 16 --out overview",
    ],
    "project": [
        "featurelens project samples/cat.jpg _blocks.8:12 --out proj.png",
        "featurelens project samples/cat.jpg _blocks.8:12 logit:285 --out projections",
        "featurelens project samples/shirt.png conv3:5 -m fashion-cnn --method guided",
    ],
    "examples": [
        "featurelens examples --data photos --layers _blocks.4,_blocks.8 --k 9",
        "featurelens examples --model fashion-cnn --data photos --layers conv2,conv3",
    ],
    "dream": [
        "featurelens dream samples/cat.jpg --objective _blocks.8 --out dream.png",
        'featurelens dream samples/cat.jpg --objective "_blocks.5:3+_blocks.8:12"',
        "featurelens dream samples/cat.jpg --octaves 6 --force",
    ],
    "find": [
        "featurelens find -m fashion-cnn -l conv3 -p samples/trouser.png -o trousers",
        "featurelens find -l _blocks.8 -p samples/photos/text.jpg -o text",
    ],
    "dictionary": [
        "featurelens dictionary -m fashion-cnn -l conv3 -d fashion-mnist:test -o a.pt",
        "featurelens dictionary -m fashion-cnn -l conv2 -k 4 -d photos -o b.pt",
    ],
    "samples": [
        "featurelens samples samples",
        "featurelens samples samples --only photos,fashion",
    ],
    "serve": [
        "featurelens serve",
        "featurelens serve --model fashion-cnn --data photos --port 8001",
        "featurelens serve --atlas atlas",
    ],
    "evolve": [
        "featurelens evolve --model fashion-cnn --data photos conv3:0..7",
        "featurelens evolve -m fashion-cnn --data photos conv2:0..3 logit:Trouser",
    ],
    "atlas": [
        "featurelens atlas --out atlas",
        "featurelens atlas --layers _blocks.8 --units 64 --out atlas",
        "featurelens atlas -m fashion-cnn --units all --size auto --out fashion",
    ],
    "map": [
        "featurelens map -m fashion-cnn -l conv3 -d fashion-mnist:test -c Trouser",
        "featurelens map --layer _blocks.6 --data photos --positions 16 --dry-run",
    ],
    "invert": [
        "featurelens invert train --model fashion-cnn --layer pool2 --data photos",
        "featurelens invert show samples/cat.jpg pool2:5 --out unit5.png",
    ],
    "invert train": [
        "featurelens invert train --model fashion-cnn --layer pool2 --data photos",
        "featurelens invert train -m fashion-cnn --layer conv3 --data photos -o c3.pt",
    ],
    "invert show": [
        "featurelens invert show samples/cat.jpg pool2:5 --out unit5.png",
        "featurelens invert show samples/cat.jpg pool2:5 pool2:9 --out decodes",
        "featurelens invert show samples/cat.jpg pool2 --inverter inv.pt --force",
    ],
    "music": [
        "featurelens music make --clips 2000",
        "featurelens music train --out music_cnn.pt",
    ],
    "music make": [
        "featurelens music make --clips 2000",
        "featurelens music make --clips 200 --seconds 2 --out short-clips",
    ],
    "music train": [
        "featurelens music train --out music_cnn.pt",
        "featurelens music train --epochs 5 --listeners 1000 --out small.pt",
    ],
}


def epilog(command: str) -> str:
    """`command`'s examples as a --help epilog (paragraphs: typer's rich help joins single line breaks)."""
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in EXAMPLES[command])
