"""CI runs the README's test command verbatim; the README's two set-up commands stay in sync."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [b.strip() for b in blocks[:2]]


def test_ci_runs_readme_test_command_verbatim():
    main_job, test_cmd = _readme_commands()
    assert "multiscale run" in main_job
    assert "pytest" in test_cmd
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci


def test_readme_mentions_every_layer():
    text = (ROOT / "README.md").read_text()
    for layer in ["atomistic", "analysis", "continuum", "kinetics", "thermo", "battery", "uq", "pipeline"]:
        assert f"multiscale.{layer}" in text or f"{layer}/" in text
