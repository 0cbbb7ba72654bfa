"""Self-contained HTML report of a pipeline run (figures embedded as base64 PNG)."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path


def _figure_tags(out_dir: Path) -> str:
    figs = sorted((out_dir / "figures").glob("*.png")) if (out_dir / "figures").is_dir() else []
    tags = []
    for fig in figs:
        data = base64.b64encode(fig.read_bytes()).decode()
        tags.append(f'<figure><img alt="{html.escape(fig.stem)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(fig.stem)}</figcaption></figure>")
    return "\n".join(tags)


def render_report(summary: dict, out_dir: Path) -> str:
    rows = []
    for name, res in summary["stages"].items():
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(res['status'])}</td>"
                    f"<td>{res.get('wall_time_s', float('nan')):.1f}</td></tr>")
    for name, why in summary["not_built"].items():
        rows.append(f"<tr class='nb'><td>{html.escape(name)}</td><td>not built: {html.escape(why)}</td><td></td></tr>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>multiscale report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto}} td{{padding:0 1em}}
tr.nb{{color:#a33}} img{{max-width:100%}}</style></head>
<body><h1>multiscale run</h1>
<h2>Stages</h2><table><tr><th>stage</th><th>status</th><th>wall time [s]</th></tr>
{''.join(rows)}</table>
<h2>Figures</h2>{_figure_tags(out_dir)}
<h2>Configuration</h2><pre>{html.escape(json.dumps(summary['config'], indent=2))}</pre>
</body></html>
"""
