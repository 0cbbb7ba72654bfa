"""The training loss: each term scales with its weight; bad weights are refused by name; weight decay."""
import pytest
import torch

from multiscale.atomistic.training import TrainingSettings, _weighted_loss, make_optimizer
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


@pytest.mark.parametrize("name", ["weight_energy", "weight_force", "weight_charge", "weight_decay"])
def test_negative_or_infinite_loss_weights_are_refused_by_name(name):
    for bad in (-1.0, float("inf")):
        with pytest.raises(InputError, match=name):
            TrainingSettings(**{name: bad}).validate()


def test_without_weight_decay_the_optimizer_is_plain_adam():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.SiLU(), torch.nn.Linear(4, 1))
    opt = make_optimizer(net, TrainingSettings(learning_rate=1e-3))
    assert type(opt) is torch.optim.Adam and opt.param_groups[0]["weight_decay"] == 0


def test_weight_decay_shrinks_weight_matrices_only():
    """With zero gradients AdamW's step is the decay alone: W ← (1 − lr·λ) W; biases stay."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.SiLU(), torch.nn.Linear(4, 1))
    before = {n: q.detach().clone() for n, q in net.named_parameters()}
    lr, wd = 1e-2, 0.5
    opt = make_optimizer(net, TrainingSettings(learning_rate=lr, weight_decay=wd))
    assert type(opt) is torch.optim.AdamW
    for q in net.parameters():
        q.grad = torch.zeros_like(q)
    opt.step()
    for n, q in net.named_parameters():
        factor = (1 - lr * wd) if q.ndim >= 2 else 1.0
        assert torch.allclose(q.detach(), factor * before[n], atol=1e-7), n
