"""Self-contained HTML report of a pipeline run: stages, derived parameters with intervals and
provenance, and every figure embedded as a base64 PNG (the file opens anywhere, offline)."""
from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

_CSS = """body{font-family:system-ui,sans-serif;max-width:64em;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}
tr.nb td{color:#a33}figure{display:inline-block;margin:.5em;max-width:46%}img{max-width:100%}
.small{color:#666;font-size:.9em}"""


# After load, the body records how many figures decoded (read back by render_check in a headless browser).
_LOAD_PROBE = ("window.addEventListener('load',function(){var i=document.images,n=0;"
               "for(var k=0;k<i.length;k++){if(i[k].complete&&i[k].naturalWidth>0)n++;}"
               "document.body.setAttribute('data-images-loaded',n+'/'+i.length);});")


def _figure_tags(out_dir: Path) -> str:
    folder = out_dir / "figures"
    figs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    tags = []
    for fig in figs:
        data = base64.b64encode(fig.read_bytes()).decode()
        name = html.escape(fig.stem.replace("_", " "))
        tags.append(f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption>{name}</figcaption></figure>')
    return "\n".join(tags) or "<p>No figures.</p>"


def _fmt(x) -> str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return "nan" if isinstance(x, float) and math.isnan(x) else f"{x:.4g}"
    return html.escape(str(x))


def _parameter_rows(parameters: dict) -> str:
    rows = []
    for name, p in parameters.items():
        interval = p.get("interval95")
        ci = f"[{_fmt(interval[0])}, {_fmt(interval[1])}]" if interval else "—"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{_fmt(p.get('value'))}</td><td>{html.escape(p.get('unit', ''))}</td>"
                    f"<td>{ci}</td><td>{html.escape(p.get('provenance', ''))}</td></tr>")
    return "".join(rows)


def render_report(summary: dict, out_dir: Path) -> str:
    stage_rows = []
    for name, res in summary["stages"].items():
        wall = res.get("wall_time_s")
        stage_rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(res['status'])}</td>"
                          f"<td>{_fmt(wall) if wall is not None else ''}</td>"
                          f"<td class='small'>{html.escape(res.get('note', ''))}</td></tr>")
    for name, why in summary.get("failed", {}).items():
        stage_rows.append(f"<tr class='nb'><td>{html.escape(name)}</td><td>failed</td><td></td><td>{html.escape(why)}</td></tr>")
    for name, why in summary.get("not_built", {}).items():
        stage_rows.append(f"<tr class='nb'><td>{html.escape(name)}</td><td>not built</td><td></td><td>{html.escape(why)}</td></tr>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>multiscale run report</title><style>{_CSS}</style></head>
<body><h1>multiscale run</h1>
<p class="small">Atoms → interface → continuum → cell. Every derived parameter carries its unit, 95 % interval
and provenance ("live": computed in this run; "shipped": from data/ made by the same command;
"base set": PyBaMM parameter set; "literature": cited value).</p>
<h2>Derived parameters</h2>
<table><tr><th>parameter</th><th>value</th><th>unit</th><th>95 % interval</th><th>provenance</th></tr>
{_parameter_rows(summary.get('parameters', {}))}</table>
<h2>Stages</h2>
<table><tr><th>stage</th><th>status</th><th>wall time [s]</th><th>note</th></tr>{''.join(stage_rows)}</table>
<h2>Figures</h2>{_figure_tags(out_dir)}
<h2>Configuration</h2><pre>{html.escape(json.dumps(summary['config'], indent=2))}</pre>
<script>{_LOAD_PROBE}</script>
</body></html>
"""
