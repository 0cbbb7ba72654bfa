"""``multiscale run``: the whole chain on the embedded default (or a config)."""
from __future__ import annotations

import click

from ..errors import NotBuiltError
from ..logging_setup import configure_logging


@click.command("run")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--quiet", "-q", is_flag=True, help="Silence progress output.")
@click.option("--scheduler", default=None, help="Address of an existing Dask scheduler.")
@click.option("--fast", is_flag=True, default=None, help="Short preset (live MD and profiles shortened).")
@click.option("--check-render", is_flag=True,
              help="Load report.html in headless Chromium; write render_check.json and report_screenshot.png.")
def command(config, out_dir, quiet, scheduler, fast, check_render) -> None:
    """Run the chain atoms → cell; writes report.html, summary.json, figures/ and parameters."""
    from ..pipeline import run_pipeline

    configure_logging(quiet=quiet)
    result = run_pipeline(config, out_dir=out_dir, scheduler=scheduler, quiet=quiet, fast=fast)
    if not quiet:
        click.echo(f"wrote {out_dir}/report.html and {out_dir}/summary.json")
    if check_render:
        import json
        from pathlib import Path

        from ..io import atomic_write_text
        from ..pipeline.render_check import check_render as render

        rc = render(Path(out_dir) / "report.html", screenshot=Path(out_dir) / "report_screenshot.png")
        atomic_write_text(Path(out_dir) / "render_check.json", json.dumps(rc, indent=1))
        click.echo(f"headless {Path(rc['browser']).name}: {rc['images_loaded']}/{rc['images_total']} figures "
                   f"rendered, {rc['n_tables']} tables; {'ok' if rc['ok'] else 'FAILED'}")
        if not rc["ok"]:
            raise click.ClickException(f"report.html did not render completely: {rc}")
    if result.not_built:
        raise NotBuiltError(
            f"stages not built yet: {', '.join(result.not_built)} (finished: {', '.join(result.finished + result.resumed) or 'none'})"
        )
