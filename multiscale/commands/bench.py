"""``multiscale bench``: run a benchmark script from ``benchmarks/`` and relay its JSON."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click

from ..errors import DataFileError, InputError
from ..resources import shipped_dir


def available_benchmarks() -> dict[str, Path]:
    """Benchmark name → script. Names are file stems without a ``bench_`` prefix."""
    folder = shipped_dir("benchmarks")
    out = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        out[path.stem.removeprefix("bench_")] = path
    return out


@click.command("bench")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the benchmark's JSON object only.")
@click.option("--list", "list_only", is_flag=True, help="List the available benchmarks.")
def command(name, as_json, list_only) -> None:
    """Run benchmark NAME (see --list) and print one JSON object."""
    try:
        scripts = available_benchmarks()
    except DataFileError:
        raise DataFileError("no benchmarks/ folder found (benchmarks ship with a source checkout)") from None
    if list_only or name is None:
        if as_json:
            click.echo(json.dumps({"available": sorted(scripts)}))
        else:
            click.echo("available benchmarks: " + ", ".join(sorted(scripts)))
        return
    if name not in scripts:
        raise InputError(f"benchmark {name!r} is unknown; available: {', '.join(sorted(scripts))}")
    proc = subprocess.run([sys.executable, str(scripts[name]), "--json"], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"benchmark {name!r} failed (exit {proc.returncode}): {tail}")
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise InputError(f"benchmark {name!r} did not print a JSON object on its last line") from None
    click.echo(json.dumps(result, indent=None if as_json else 2))
