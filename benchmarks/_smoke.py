"""`--smoke`, which every benchmark has: the same code path as a real run at tiny sizes (few steps, few units, small
images, 1 s timing windows, one repeat), done in seconds. tests/benchmarks/test_smoke.py runs each benchmark so in
CI: it starts, measures and prints its table. Smoke figures say nothing about speed.

Each script keeps its own smoke sizes in a dict beside its argparse defaults; flags given on the command line win.
"""

from __future__ import annotations

import argparse
import importlib.util

SECONDS = 1.0  # a timing window in smoke mode


def parse_args(parser: argparse.ArgumentParser, smoke: dict) -> argparse.Namespace:
    """Add `--smoke` to `parser` and parse: with it, `smoke` replaces the defaults (explicit flags still win)."""
    sizes = ", ".join(f"--{name.replace('_', '-')} {' '.join(map(str, value)) if isinstance(value, list) else value}"
                      for name, value in smoke.items())
    parser.add_argument("--smoke", action="store_true",
                        help=f"tiny run that checks the benchmark works, figures meaningless (as {sizes})")
    args = parser.parse_args()
    if args.smoke:
        parser.set_defaults(**smoke)
        args = parser.parse_args()
        print(f"smoke mode ({sizes}): checks the benchmark runs; its figures say nothing about speed", flush=True)
    return args


def missing_peer(module: str, install: str) -> str | None:
    """None if the peer `module` can be imported, else one line saying it is not installed and how to install it."""
    if importlib.util.find_spec(module) is not None:
        return None
    return f"{module} is not installed, its rows are skipped ({install})"
