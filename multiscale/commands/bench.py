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


def load_benchmark(name: str):
    """Benchmark ``name`` (see :func:`available_benchmarks`) imported as a module, for its functions."""
    import importlib.util

    scripts = available_benchmarks()
    if name not in scripts:
        raise InputError(f"benchmark {name!r} is unknown; available: {', '.join(sorted(scripts))}")
    spec = importlib.util.spec_from_file_location(f"bench_{name}", scripts[name])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def last_json_object(stdout: str):
    """The last JSON object a benchmark printed: its last line, or (for ``--json`` output printed
    with indentation) the text from the last line that opens an object at column 0."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    for k in range(len(lines) - 1, -1, -1):
        if lines[k].startswith("{"):
            try:
                return json.loads("\n".join(lines[k:]))
            except json.JSONDecodeError:
                continue
    raise ValueError("no JSON object at the end of the output")


@click.command("bench", context_settings=dict(ignore_unknown_options=True))
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the benchmark's JSON object only.")
@click.option("--list", "list_only", is_flag=True, help="List the available benchmarks.")
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
def command(name, as_json, list_only, script_args) -> None:
    """Run benchmark NAME (see --list) and print one JSON object.

    Arguments after NAME that this command does not take go to the benchmark script, e.g.
    ``multiscale bench force_capacity --json --frames 400 --minutes 5``.
    """
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
    proc = subprocess.run([sys.executable, str(scripts[name]), "--json", *script_args], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"benchmark {name!r} failed (exit {proc.returncode}): {tail}")
    try:
        result = last_json_object(proc.stdout)
    except ValueError:
        raise InputError(f"benchmark {name!r} did not print a JSON object at the end of its output") from None
    click.echo(json.dumps(result, indent=None if as_json else 2))
