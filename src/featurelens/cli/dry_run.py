"""`--dry-run`, the same for every command: say what the checked plan would do, or run it with a progress bar."""

from __future__ import annotations

from typing import Any

import typer


def run_or_describe(plan: Any, dry_run: bool, where: str) -> Any | None:
    """The plan's result, or None after printing "would <what the plan does>; <where>" for a dry run."""
    if dry_run:
        typer.echo(f"would {plan.describe()}; {where}")
        return None
    return plan.run(progress=True)
