"""Labelling into an ASE database: fields stored, resume skips existing rows, extxyz export."""
import threading

import numpy as np
import pytest
from ase.build import molecule
from ase.io import read

from multiscale.atomistic.labelling import export_extxyz, label_configurations, load_dataset, open_label_db
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


def _write_rows(db, task, steps):
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.db import connect

    with connect(str(db)) as con:
        for step in steps:
            a = molecule("H2O")
            a.center(vacuum=3.0)
            a.calc = SinglePointCalculator(a, energy=float(step), forces=np.zeros((3, 3)), charges=np.zeros(3),
                                           dipole=np.zeros(3))
            con.write(a, split="train", task=task, step=step, field_V_per_A=0.0, config_id=f"c{task}{step}")


def test_training_frames_from_several_databases(tmp_path):
    from multiscale.atomistic.labelling import load_training_frames
    from multiscale.errors import InputError

    _write_rows(tmp_path / "a.db", "t1", range(6))
    _write_rows(tmp_path / "b.db", "t2", range(4))
    frames = load_training_frames([tmp_path / "a.db", tmp_path / "b.db"], frame_stride=2)
    assert [(a.info["task"], a.info["step"]) for a in frames] == [("t1", 0), ("t1", 2), ("t1", 4), ("t2", 0),
                                                                  ("t2", 2)]
    assert len(load_training_frames(tmp_path / "a.db")) == 6
    with pytest.raises(InputError, match="twice"):
        load_training_frames([tmp_path / "a.db", tmp_path / "a.db"])
    import shutil

    shutil.copy(tmp_path / "a.db", tmp_path / "c.db")
    with pytest.raises(InputError, match="'t1' is in both"):
        load_training_frames([tmp_path / "a.db", tmp_path / "c.db"])
    with pytest.raises(InputError, match="frame_stride"):
        load_training_frames(tmp_path / "a.db", frame_stride=0)


def test_bulk_reference_md_rows(tmp_path):
    """system="bulk": periodic LiBF4/EC cubes labelled by xTB, the task named by its composition."""
    from multiscale.atomistic.labelling import generate_reference_md
    from multiscale.errors import InputError

    db = tmp_path / "bulk.db"
    n = generate_reference_md(db, system="bulk", compositions=[(3, 1)], fields_V_per_A=[0.0],
                              heldout_fields_V_per_A=[], temperatures_K=[300.0], seeds=[0], n_steps=2,
                              n_workers=0, progress=False)
    assert n == 2
    rows = load_dataset(db)
    assert all(r.pbc.all() and len(r) == 36 and r.info["system"] == "bulk" for r in rows)
    assert rows[0].info["task"] == "bulk-3EC-1LiBF4-md-GFN1-xTB-F+0.000-T300-s0"
    assert abs(rows[1].calc.results["charges"].sum()) < 1e-6
    with pytest.raises(InputError, match="system"):
        generate_reference_md(db, system="gas", progress=False)
    with pytest.raises(InputError, match="compositions"):
        generate_reference_md(db, system="bulk", compositions=[(0, 0)], progress=False)


def test_two_processes_can_create_one_database(tmp_path, monkeypatch):
    """Two ``label`` runs starting on a new database must not race to create its tables.

    ASE checks that the tables are absent, then creates them. The patch holds every opener right
    after that check until both have checked (or 0.5 s pass): without a lock both see a new file
    and both create, and one fails ("table systems already exists")."""
    from ase.build import bulk
    from ase.db.sqlite import SQLite3Database

    original = SQLite3Database._initialize
    both_checked = threading.Barrier(2, timeout=0.5)

    class HeldAfterTheCheck:
        def __init__(self, con):
            self._con = con

        def execute(self, sql, *args):
            cursor = self._con.execute(sql, *args)
            if "sqlite_master WHERE name='systems'" not in sql:
                return cursor
            rows = iter(cursor.fetchall())
            try:
                both_checked.wait()
            except threading.BrokenBarrierError:
                pass
            return type("Rows", (), {"fetchone": lambda _: next(rows)})()

        def __getattr__(self, name):
            return getattr(self._con, name)

    monkeypatch.setattr(SQLite3Database, "_initialize", lambda self, con: original(self, HeldAfterTheCheck(con)))
    path = tmp_path / "new" / "labels.db"
    errors = []

    def open_and_write(k):
        try:
            open_label_db(path).write(bulk("Cu"), task=f"t{k}")
        except Exception as exc:  # collected: an exception in a thread would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.task for r in open_label_db(path).select()) == ["t0", "t1"]
    assert [p.name for p in path.parent.iterdir()] == ["labels.db"]  # no lock file left behind
