"""The training loss: each term scales with its weight; bad weights are refused by name."""
import pytest
import torch

from multiscale.atomistic.training import TrainingSettings, _weighted_loss
from multiscale.errors import InputError


def _batch():
    out = dict(energy=torch.tensor([1.0, 2.0]), forces=torch.zeros(4, 3), charges=torch.zeros(4),
               dipole_z=torch.zeros(2))
    t = dict(energy=torch.tensor([1.2, 1.6]), forces=torch.full((4, 3), 0.1), charges=torch.zeros(4),
             dipole_z=torch.zeros(2), n_atoms=torch.tensor([2.0, 2.0]), dipole_weight=torch.zeros(2))
    return out, t, torch.tensor([0, 0, 1, 1])


@pytest.mark.parametrize("w_e", [0.0, 1.0, 1000.0])
def test_loss_is_the_weighted_sum_of_energy_and_force_errors(w_e):
    out, t, cfg = _batch()
    s = TrainingSettings(weight_energy=w_e, weight_force=1.0, weight_charge=10.0)
    loss, parts = _weighted_loss(out, t, cfg, 2, torch.ones(4), s, torch.ones(2))
    # per atom: energy errors 0.2/2 and 0.4/2 eV; every force component off by 0.1 eV/Å
    e_term = (0.1 ** 2 + 0.2 ** 2) / 2
    assert torch.allclose(parts["e"], torch.tensor([0.1 ** 2, 0.2 ** 2]))
    assert float(loss) == pytest.approx(w_e * e_term + 0.1 ** 2, rel=1e-5)


@pytest.mark.parametrize("name", ["weight_energy", "weight_force", "weight_charge"])
def test_negative_or_infinite_loss_weights_are_refused_by_name(name):
    for bad in (-1.0, float("inf")):
        with pytest.raises(InputError, match=name):
            TrainingSettings(**{name: bad}).validate()
