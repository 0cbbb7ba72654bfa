import json
import os

import pytest

from multiscale import resources
from multiscale.errors import DataFileError
from multiscale.io import atomic_path, atomic_write_json


def test_atomic_write_leaves_old_file_on_error(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_json_rejects_nan(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "x.json", {"a": float("nan")})
    assert not (tmp_path / "x.json").exists()


def test_shipped_dirs_found_from_checkout():
    assert resources.shipped_dir("models").name == "models"
    assert resources.shipped_dir("data").name == "data"


def test_env_override_and_wheel_layout(tmp_path, monkeypatch):
    (tmp_path / "card.md").write_text("x")
    monkeypatch.setenv("MULTISCALE_MODELS_DIR", str(tmp_path))
    assert resources.model_path("card.md") == tmp_path / "card.md"


def test_wheel_fallback(tmp_path, monkeypatch):
    # Simulate an installed wheel: no checkout folder, artefacts under multiscale/_shipped/.
    pkg = tmp_path / "site" / "multiscale"
    (pkg / "_shipped" / "data" / "set").mkdir(parents=True)
    (pkg / "_shipped" / "data" / "set" / "README.md").write_text("x")
    monkeypatch.setattr(resources, "_PACKAGE_DIR", pkg)
    monkeypatch.delenv("MULTISCALE_DATA_DIR", raising=False)
    assert resources.data_path("set", "README.md") == pkg / "_shipped" / "data" / "set" / "README.md"


def test_missing_artefact_message():
    with pytest.raises(DataFileError, match="regenerates"):
        resources.model_path("no-such-model", "card.md")


def test_unknown_kind():
    with pytest.raises(DataFileError, match="kind"):
        resources.shipped_dir("weights")


def test_atomic_write_gets_normal_permissions(tmp_path):
    path = atomic_write_json(tmp_path / "p.json", {"a": 1})
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)
