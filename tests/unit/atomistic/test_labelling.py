"""Labelling into an ASE database: fields stored, resume skips existing rows, extxyz export."""
import numpy as np
import pytest
from ase.build import molecule
from ase.io import read

from multiscale.atomistic.labelling import export_extxyz, label_configurations, load_dataset
from multiscale.errors import DataFileError


def test_label_resume_and_export(tmp_path):
    db = tmp_path / "labels.db"
    confs = []
    for k in range(2):
        a = molecule("H2O")
        a.center(vacuum=3.0)
        a.rattle(0.02, seed=k)
        confs.append(a)
    n = label_configurations(confs, db, field_V_per_A=0.05, n_workers=0, progress=False)
    assert n == 2
    assert label_configurations(confs, db, field_V_per_A=0.05, n_workers=0, progress=False) == 0  # resumed
    rows = load_dataset(db)
    assert len(rows) == 2
    r = rows[0]
    assert r.info["field_V_per_A"] == 0.05 and r.info["method"] == "GFN1-xTB"
    assert r.get_forces().shape == (3, 3)
    assert abs(r.calc.results["charges"].sum()) < 1e-6
    assert r.calc.results["dipole"].shape == (3,)
    out = tmp_path / "labels.xyz"
    assert export_extxyz(db, out) == 2
    back = read(out, ":")
    np.testing.assert_allclose(back[1].get_forces(), rows[1].get_forces(), atol=1e-6)
    assert back[0].info["field_V_per_A"] == 0.05


def test_missing_db(tmp_path):
    with pytest.raises(DataFileError, match="multiscale potential label"):
        load_dataset(tmp_path / "nope.db")


def test_config_ids_never_parse_as_numbers(monkeypatch):
    """A hex digest like '4071276836e70470' reads as a float; ASE's db would refuse to store it."""
    import hashlib

    from multiscale.atomistic import default_system
    from multiscale.atomistic.labelling import config_id

    class FakeHash:
        def update(self, _):
            pass

        def hexdigest(self):
            return "4071276836e70470" + "0" * 24

    monkeypatch.setattr(hashlib, "sha1", lambda: FakeHash())
    cid = config_id(default_system(0), 0.0, "GFN1-xTB")
    assert cid == "c4071276836e70470"
    with pytest.raises(ValueError):
        float(cid)
