"""Would a richer descriptor hold the information the forces lack? Correctors on the model's residual.

``bench_force_capacity.py`` found that a continued member of the shipped model (at 10⁻⁴) fits even
a few hundred of its own frames no better than ~70 meV/Å, wide or not. This asks whether a second
network can learn what the model leaves, and whether it learns more from a richer input, without
training a whole model from scratch.

For each descriptor variant, a fresh corrector member (element networks on that descriptor, no
baseline) is trained on the shipped ensemble's residual on ``n`` of its own training frames
(reference − model: energy and forces; charges are the model's and not trained), with plain Adam at
a constant rate for a fixed time. Its last layer starts at zero, so every run starts at the model's
own error. Recorded: the force RMSE of the molecular atoms (the sheet left out) of model +
corrector on those frames, every ``--record-steps`` steps, and at the start and end on held-out
frames (every ``--heldout-stride``-th of ``labels_heldout2.db``), with each descriptor's size and
the triplets per atom it evaluates (its cost).

- ``model``: the model's own descriptor (the control: a second network on the same information).
- ``angular_fine``: five ζ (1, 2, 4, 8, 16) and eight shells 0.2 Å wide, within the same 3.5 Å.
- ``angular_4p5``: the angular cutoff at 4.5 Å (seven shells), ζ and widths the model's.
- ``angular_fine_4p5``: both: five ζ, thirteen shells 0.2 Å wide, within 4.5 Å.
- ``messages``: the model's descriptor plus one round of learned linear messages
  (:class:`~multiscale.atomistic.model.MessageSettings`): each neighbour within 4 Å sends a
  16-channel projection of its own descriptor, summed over 4 radial Gaussians (information on
  the neighbours' environments: higher body order; ×1.74 the cost of an MD step,
  ``bench_descriptor_cost.py``).
- ``messages_wide``: the same with 32 channels and 6 Gaussians within 5 Å.
- ``painn``: no symmetry functions: an equivariant message-passing corrector
  (:class:`~multiscale.atomistic.message_passing.MessagePassingPotential`, the shipped PaiNN's
  shape: 64 features, 3 rounds within 5 Å, so a receptive field of 15 Å and vector features that
  carry directions between rounds). Its readout's last layer starts at zero, as the others'.
- ``painn_small``: 32 features, 2 rounds within 4.5 Å (about a quarter of the cost per step).
  ``--hidden`` does not apply to the PaiNN variants. Their output scale is the residual's RMS force
  component, as PaiNN training uses; from a zero readout they start slowly (only the last layer
  has a gradient at first), so a CPU run of tens of minutes is a weak test of them (the model card).
- ``painn_small_twin``: ``painn_small`` without the zero readout: the corrector is a randomly
  initialised network minus its own frozen copy (:func:`twin`), so it too starts at zero, but
  every layer has a gradient from the first step. Each step costs a second, gradient-free pass.
- ``charge_oracle``: the model's descriptor plus five inputs no model has at run time, taken from
  the reference (:func:`oracle_inputs`): the atom's Mulliken charge, its error in the model's
  charge head, its molecule's net charge and that net charge's error, and the sheet's net charge.
  They carry the charge that GFN1-xTB moves across the cell (``bench_force_reach.py --move
  rotate``), which no local descriptor sees. The oracle charges are inputs held fixed: the
  corrector's forces are −∂E/∂r at fixed charges, as the short-range part of a charge-equilibration
  model (4G-HDNNP) is. If this corrector learns what carries over to held-out frames where the
  control does not, a model that predicts those charges (a global charge equilibration) is the
  lever; if it follows the control, the missing forces are not a function of where the charge sits.

A few hundred frames can be memorised by any variant (the correctors have ~260,000 weights):
judge on thousands of frames, where a variant that lowers the training frames' error *and* the
held-out one carries information the model's descriptor does not, and one that follows the
control does not.

    python benchmarks/bench_descriptor_information.py --json [--model NAME] [--frames 400]
        [--variants model,messages,angular_fine] [--minutes 25] [--learning-rate 1e-3] [--workers 2]

Each variant is one run, in its own process with one thread (``multiscale.parallel``). Prints JSON.
Takes ``--minutes`` plus ~5 min per round of ``--workers`` runs.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

#: descriptor variants: changes to the model's own :class:`DescriptorSettings`
VARIANTS = {
    "model": {},
    "angular_fine": dict(zetas=(1.0, 2.0, 4.0, 8.0, 16.0), n_angular_radial=8, angular_width_A=0.2),
    "angular_4p5": dict(angular_cutoff_A=4.5, n_angular_radial=7),
    "angular_fine_4p5": dict(zetas=(1.0, 2.0, 4.0, 8.0, 16.0), angular_cutoff_A=4.5, n_angular_radial=13,
                             angular_width_A=0.2),
    "messages": dict(messages=dict(n_channels=16, n_radial=4, cutoff_A=4.0, width_A=0.4)),
    "messages_wide": dict(messages=dict(n_channels=32, n_radial=6, cutoff_A=5.0, width_A=0.4)),
    # equivariant message passing instead of symmetry functions (MessagePassingSettings)
    "painn": dict(painn=dict(n_features=64, n_layers=3, cutoff_A=5.0)),
    "painn_small": dict(painn=dict(n_features=32, n_layers=2, cutoff_A=4.5)),
    # the same, started as the difference of a randomly initialised network and its frozen copy
    "painn_small_twin": dict(painn=dict(n_features=32, n_layers=2, cutoff_A=4.5), twin=True),
    # the model's descriptor plus the reference's charges as fixed inputs (oracle_inputs)
    "charge_oracle": dict(oracle=True),
}

#: the columns of :func:`oracle_inputs`
ORACLE_INPUTS = ("charge_e", "charge_error_e", "molecule_charge_e", "molecule_charge_error_e", "sheet_charge_e")


def _capacity_bench():
    """``bench_force_capacity`` (its fixed-time fit and RMSE)."""
    from multiscale.commands.bench import load_benchmark

    return load_benchmark("force_capacity")


def residual_frames(ensemble, frames) -> list:
    """Copies of labelled frames whose energy and forces are reference − ``ensemble`` (baseline
    included); charges and dipole kept."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from multiscale.atomistic.validation import predict_frames

    out = []
    for a, p in zip(frames, predict_frames(ensemble, frames)):
        b = a.copy()
        res = {k: v for k, v in a.calc.results.items() if k in ("energy", "forces", "charges", "dipole")}
        res["energy"] = float(a.get_potential_energy()) - p["energy"]
        res["forces"] = a.get_forces() - p["forces"]
        b.calc = SinglePointCalculator(b, **res)
        b.info = dict(a.info)
        b.set_array("model_charges", np.asarray(p["charges"], dtype=float))
        out.append(b)
    return out


def oracle_inputs(frame) -> np.ndarray:
    """(N, 5) per atom, the columns of :data:`ORACLE_INPUTS` [e]: the reference's Mulliken charge
    q_i, q_i − the model's charge, the net reference charge of the atom's molecule
    (:func:`~multiscale.atomistic.validation.molecules`; the sheet counts as one, Li⁺ alone), that
    net charge − the model's, and the sheet's net reference charge (the same for every atom).
    ``frame`` is one of :func:`residual_frames` (reference charges in its results, the model's in
    ``arrays['model_charges']``)."""
    from multiscale.atomistic.validation import molecules

    q = np.asarray(frame.calc.results["charges"], dtype=float)
    dq = q - frame.arrays["model_charges"]
    label = molecules(frame)
    _, index = np.unique(label, return_inverse=True)
    mol_q, mol_dq = np.bincount(index, q)[index], np.bincount(index, dq)[index]
    sheet = float(q[label == -1].sum())
    return np.stack([q, dq, mol_q, mol_dq, np.full(len(q), sheet)], 1)


def _oracle_corrector(corrector, batches, hidden):
    """``corrector`` made to read :func:`oracle_inputs` (``batch['oracle']``) after its descriptor:
    its networks get that many more inputs, standardised on ``batches`` as the descriptor is."""
    import torch

    from multiscale.atomistic.model import _mlp, field_outputs

    class OracleCorrector(type(corrector)):
        def energy_from_features(self, feats, batch):
            x = torch.cat([feats, batch["oracle"].to(feats.dtype)], 1)
            return field_outputs(self.atomic_outputs(x, batch["species"], batch.get("sheet")), batch)

    corrector.__class__ = OracleCorrector
    k = len(ORACLE_INPUTS)
    corrector.nets = torch.nn.ModuleList([_mlp(net[0].in_features + k, hidden, 4) for net in corrector.nets])
    x = torch.cat([cb.batch["oracle"].double() for cb in batches])
    corrector.feature_mean = torch.cat([corrector.feature_mean, x.mean(0)])
    corrector.feature_std = torch.cat([corrector.feature_std, x.std(0).clamp(min=1e-3)])
    return corrector


def run_one(item: dict) -> dict:
    """One corrector run: ``item`` holds model, variant, n_frames, hidden, minutes, learning_rate,
    record_steps, heldout_stride, seed and optionally max_steps. Returns its record (see the module
    docstring)."""
    import torch

    torch.set_num_threads(1)
    import multiscale.atomistic.training as tr
    from multiscale.atomistic import load_potential
    from multiscale.atomistic.labelling import load_dataset
    from multiscale.atomistic.model import DescriptorSettings, FieldAwarePotential, MessageSettings, NetworkSettings
    from multiscale.atomistic.validation import training_frames
    from multiscale.resources import data_path

    calc = load_potential(item["model"])
    ens = calc.ensemble
    frames = residual_frames(ens, training_frames(calc, max_frames=item["n_frames"]))
    held = load_dataset(data_path("xtb_li_ec_graphene", "labels_heldout2.db"), split="heldout")
    held = residual_frames(ens, held[::item["heldout_stride"]])
    settings = dict((calc.info or {}).get("history", {}).get("settings", {}))
    # the charges stay the model's: the corrector is trained on energies and forces only
    s = tr.TrainingSettings(weight_energy=float(settings.get("weight_energy", 100.0)),
                            weight_force=float(settings.get("weight_force", 1.0)), weight_charge=0.0,
                            weight_force_electrode=float(settings.get("weight_force_electrode", 1.0)))
    variant = dict(VARIANTS[item["variant"]])
    if "painn" in variant:
        return _run_message_passing(item, variant, ens, frames, held, s)
    own = ens.members[0].descriptor.settings.to_dict()
    messages = variant.pop("messages", None)
    oracle = variant.pop("oracle", False)
    desc = DescriptorSettings(**{**own, **variant})
    desc.validate()
    torch.manual_seed(item["seed"])
    net = NetworkSettings(hidden=tuple(item["hidden"]),
                          messages=None if messages is None else MessageSettings(**messages))
    corrector = FieldAwarePotential(ens.members[0].elements, desc, net)

    def cached(work):
        bs = 8
        batches = [tr._CachedBatch(work[b:b + bs], np.arange(b, min(b + bs, len(work))), corrector.descriptor,
                                   corrector.elements, electrode_weight=s.weight_force_electrode,
                                   factor_dtype=torch.float16) for b in range(0, len(work), bs)]
        if oracle:
            for b, cb in zip(range(0, len(work), bs), batches):
                inputs = np.concatenate([oracle_inputs(a) for a in work[b:b + bs]])
                cb.batch["oracle"] = torch.from_numpy(inputs).float()
        return batches, _molecular_masks([work[b:b + bs] for b in range(0, len(work), bs)])

    t0 = time.perf_counter()
    batches, molecular = cached(frames)
    cache_minutes = (time.perf_counter() - t0) / 60
    held_batches, held_molecular = cached(held)
    tr.fit_normalisation(corrector, batches, frames)
    if oracle:
        corrector = _oracle_corrector(corrector, batches, tuple(item["hidden"]))
    with torch.no_grad():  # a zero last layer: the corrector starts as a constant, model + corrector as the model
        for net in corrector.nets:
            net[-1].weight.zero_()
            net[-1].bias.zero_()
    corrector.float()
    n_atoms = sum(len(cb.batch["species"]) for cb in batches)
    rec = dict(variant=item["variant"], descriptor=desc.to_dict(), messages=messages,
               oracle_inputs=list(ORACLE_INPUTS) if oracle else [], n_features=corrector.descriptor.n_features,
               n_inputs=corrector.nets[0][0].in_features,
               triplets_per_atom=sum(len(cb.batch["tri_i"]) for cb in batches) / n_atoms,
               cache_MB_per_frame=sum(cb.nbytes() for cb in batches) / len(frames) / 1e6,
               cache_minutes=cache_minutes, n_frames=len(frames), hidden=list(item["hidden"]),
               learning_rate=item["learning_rate"], n_heldout_frames=len(held))
    return _fit(corrector, rec, item, s, (batches, molecular), (held_batches, held_molecular))


def _fit(corrector, rec: dict, item: dict, s, train, held) -> dict:
    """``rec`` with the fixed-time fit of ``corrector`` on ``train`` = (batches, molecular masks) and
    the held-out RMSE at its start and end."""
    bfc = _capacity_bench()
    rec["heldout_start_molecular_meV_per_A"] = bfc.molecular_rmse(corrector, *held)
    rec.update(bfc.fit_for_minutes(corrector, *train, s, minutes=item["minutes"], learning_rate=item["learning_rate"],
                                   record_steps=item["record_steps"], seed=item["seed"],
                                   max_steps=item.get("max_steps"), heldout=held))
    rec["heldout_end_molecular_meV_per_A"] = bfc.molecular_rmse(corrector, *held)
    return rec


def _molecular_masks(batches_frames) -> list:
    """Per batch of frames, the molecular atoms (the electrode's left out) as a bool tensor."""
    import torch

    from multiscale.atomistic.system import electrode_atoms

    return [torch.from_numpy(~np.concatenate([electrode_atoms(a) for a in chunk])) for chunk in batches_frames]


def twin(network):
    """``network`` − a frozen copy of it, output by output: zero for every input at the start, yet
    (unlike a zeroed last layer) with a gradient in every layer from the first step. Only the first
    term trains; its copy's outputs are computed without a graph."""
    import copy

    import torch

    class Twin(torch.nn.Module):
        def __init__(self, live):
            super().__init__()
            self.live = live
            self.frozen = copy.deepcopy(live).requires_grad_(False)

        def forward(self, batch, **kwargs):
            out = self.live(batch, **kwargs)
            ref = self.frozen(batch, **{**kwargs, "create_graph": False})
            return {k: v - ref[k].detach() if torch.is_tensor(v) and k in ref else v for k, v in out.items()}

    return Twin(network)


def _run_message_passing(item, variant: dict, ens, frames, held, s) -> dict:
    """A PaiNN corrector run (variants ``painn*``), recorded as :func:`run_one` records the others."""
    import torch

    import multiscale.atomistic.training as tr
    from multiscale.atomistic.message_passing import MessagePassingPotential, MessagePassingSettings

    torch.manual_seed(item["seed"])
    settings = MessagePassingSettings(**variant["painn"])
    corrector = MessagePassingPotential(ens.members[0].elements, settings)
    bs = 8

    def graphs(work):
        chunks = [work[b:b + bs] for b in range(0, len(work), bs)]
        batches = [tr._GraphBatch(c, np.arange(b * bs, b * bs + len(c)), settings.cutoff_A, corrector.elements,
                                  s.weight_force_electrode, "cpu") for b, c in enumerate(chunks)]
        return batches, _molecular_masks(chunks)

    t0 = time.perf_counter()
    batches, molecular = graphs(frames)
    cache_minutes = (time.perf_counter() - t0) / 60
    held_batches, held_molecular = graphs(held)
    # the residual's per-element energy shift, and the output scale PaiNN training uses (the RMS
    # force component): with the symmetry functions' scale (3 × the spread of the energy per atom,
    # ~0.01 eV) a corrector's forces barely moved in 6,000 steps (0.003 meV/Å)
    tr._fit_ranges(corrector, frames)
    f_rms = float(np.sqrt(np.mean(np.concatenate([a.get_forces().ravel() for a in frames]) ** 2)))
    corrector.energy_scale.fill_(max(f_rms, 0.01))
    if not variant.get("twin"):
        with torch.no_grad():  # a zero last layer: the corrector starts as a constant, model + corrector as the model
            corrector.net["readout"][-1].weight.zero_()
            corrector.net["readout"][-1].bias.zero_()
    corrector.net.float()
    if variant.get("twin"):
        corrector = twin(corrector)
    n_atoms = sum(len(cb.batch["species"]) for cb in batches)
    rec = dict(variant=item["variant"], message_passing=settings.to_dict(), twin=bool(variant.get("twin")),
               n_features=settings.n_features,
               pairs_per_atom=sum(len(cb.batch["i"]) for cb in batches) / n_atoms, cache_minutes=cache_minutes,
               n_frames=len(frames), learning_rate=item["learning_rate"], n_heldout_frames=len(held))
    return _fit(corrector, rec, item, s, (batches, molecular), (held_batches, held_molecular))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--json", action="store_true")
    p.add_argument("--model", default="mlp_li_ec_graphene_vff")
    p.add_argument("--frames", type=int, default=400, help="training frames of the model, the same for every run")
    p.add_argument("--variants", default="model,messages,angular_fine",
                   help=f"comma-separated, from {', '.join(VARIANTS)}")
    p.add_argument("--hidden", default="64,64", help="the correctors' layer widths")
    p.add_argument("--minutes", type=float, default=25.0, help="training time per run")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--record-steps", type=int, default=1000, help="optimiser steps between training-set RMSEs")
    p.add_argument("--heldout-stride", type=int, default=8, help="every n-th frame of labels_heldout2.db")
    p.add_argument("--workers", type=int, default=2, help="runs side by side, one thread each (0: serial)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if not variants or unknown:
        raise SystemExit(f"--variants {args.variants!r}: each must be one of {', '.join(VARIANTS)}")
    if not 16 <= args.frames <= 20000:
        raise SystemExit(f"--frames = {args.frames} is out of range: must be in [16, 20000]")
    bfc = _capacity_bench()
    hidden = bfc._hidden(args.hidden)
    bfc.check_fit_arguments(args)
    from multiscale.parallel import parallel_map

    items = [dict(model=args.model, variant=v, n_frames=args.frames, hidden=hidden, minutes=args.minutes,
                  learning_rate=args.learning_rate, record_steps=args.record_steps,
                  heldout_stride=args.heldout_stride, seed=args.seed) for v in variants]
    t0 = time.perf_counter()
    runs = parallel_map(run_one, items, n_workers=min(args.workers, len(items)), progress=not args.json,
                        description="corrector runs")
    out = dict(model=args.model, n_frames=args.frames, runs=runs, wall_minutes=(time.perf_counter() - t0) / 60)
    for r in runs:  # the headline per variant: training frames and held out, start → end
        out[f"{r['variant']}_train_molecular_start_end_meV_per_A"] = [r["train_start_molecular_meV_per_A"],
                                                                      r["train_end_molecular_meV_per_A"]]
        out[f"{r['variant']}_heldout_molecular_start_end_meV_per_A"] = [r["heldout_start_molecular_meV_per_A"],
                                                                        r["heldout_end_molecular_meV_per_A"]]
    print(json.dumps(out, indent=1 if args.json else None))
    return out


if __name__ == "__main__":
    main()
