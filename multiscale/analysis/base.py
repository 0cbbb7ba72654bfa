"""Analysis skeleton: prepare / per-frame (per-chunk) / conclude, and a results container.

Every trajectory analysis in :mod:`multiscale.analysis` follows the MDAnalysis pattern:
``_prepare()`` allocates accumulators, ``_single_frame(chunk)`` folds one streamed chunk of
frames into them (a chunk is a :class:`multiscale.analysis.readers.FrameChunk` of at most
``chunk_size`` frames, so memory does not grow with trajectory length), and ``_conclude()``
turns the accumulators into a :class:`Results` object. ``run()`` returns ``self``.

Results carry their axes and units: each array is stored together with a unit string and the
name of the axis it lives on, so ``results.to_dataframe()`` gives PyBaMM-style columns
(``"r [Å]"``, ``"g(r) [-]"``) and ``results.plot()`` draws itself (matplotlib imported lazily).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..errors import InputError, NotFittedError


@dataclass
class Quantity:
    """One named array with its unit and (for profiles) the name of its axis."""

    values: np.ndarray
    unit: str
    axis: str | None = None

    def column(self, name: str) -> str:
        return f"{name} [{self.unit}]"


@dataclass
class Results:
    """A container of named quantities with units; axes are quantities too.

    ``results["rdf"]`` returns the ndarray; ``results.unit("rdf")`` its unit;
    ``results.to_dataframe(names)`` a table whose columns carry units; ``results.meta`` holds
    scalars and settings (fit windows, boundary conditions) that a report should state.
    """

    title: str = ""
    quantities: dict[str, Quantity] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, values, unit: str, axis: str | None = None) -> None:
        self.quantities[name] = Quantity(np.asarray(values), unit, axis)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.quantities[name].values
        except KeyError:
            raise InputError(f"result {name!r} does not exist; available: {', '.join(self.quantities)}") from None

    def __contains__(self, name: str) -> bool:
        return name in self.quantities

    def unit(self, name: str) -> str:
        return self.quantities[name].unit

    def to_dataframe(self, names: Iterable[str] | None = None):
        """A pandas DataFrame of 1-D quantities sharing one axis, columns ``"name [unit]"``."""
        import pandas as pd

        names = list(names) if names is not None else [n for n, q in self.quantities.items() if q.values.ndim == 1]
        lengths = {self[n].shape[0] for n in names}
        if len(lengths) != 1:
            raise InputError(f"quantities {names} have different lengths {sorted(lengths)}: pick one axis")
        return pd.DataFrame({self.quantities[n].column(n): self[n] for n in names})

    def plot(self, y: str | list[str], *, ax=None, error: str | None = None, **kwargs):
        """Plot quantity (or quantities) ``y`` against its axis; returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        ys = [y] if isinstance(y, str) else list(y)
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        for name in ys:
            q = self.quantities[name]
            if q.axis is None:
                raise InputError(f"quantity {name!r} has no axis to plot against")
            x = self.quantities[q.axis]
            if error is not None and len(ys) == 1:
                ax.errorbar(x.values, q.values, yerr=self[error], label=name, capsize=2, **kwargs)
            else:
                ax.plot(x.values, q.values, label=name, **kwargs)
            ax.set_xlabel(x.column(q.axis))
        ax.set_ylabel(self.quantities[ys[0]].column(ys[0]) if len(ys) == 1 else f"[{self.unit(ys[0])}]")
        if len(ys) > 1:
            ax.legend()
        if self.title:
            ax.set_title(self.title)
        return ax


class AnalysisBase(ABC):
    """Base class: subclasses implement ``_prepare``, ``_single_frame(chunk)``, ``_conclude``.

    ``run(trajectory)`` accepts anything :func:`multiscale.analysis.readers.iter_chunks`
    accepts (a file name ASE reads, a list of ``ase.Atoms``, or an array of positions with a
    cell) and streams it chunk by chunk.
    """

    #: whether the analysis needs unwrapped coordinates (the reader unwraps if so)
    needs_unwrapped: bool = False

    def __init__(self, *, chunk_size: int = 256, progress: bool = False):
        if int(chunk_size) < 1:
            raise InputError(f"chunk_size = {chunk_size!r} is out of range: must be >= 1")
        self.chunk_size = int(chunk_size)
        self.progress = bool(progress)
        self.results_: Results | None = None
        self.n_frames_ = 0

    # -- hooks ---------------------------------------------------------------------------------
    @abstractmethod
    def _prepare(self, first) -> None:
        """Set up the accumulators from the first chunk (its cell, atom count, species)."""

    @abstractmethod
    def _single_frame(self, chunk) -> None:
        """Add one chunk (``chunk.positions`` (n, N, 3) Å, its cells) to the accumulators."""

    @abstractmethod
    def _conclude(self) -> Results:
        """Turn the accumulators into :class:`Results` (called once, after the last chunk)."""

    # -- driver --------------------------------------------------------------------------------
    def run(self, trajectory, *, cell=None, time_ps=None, **reader_kwargs):
        """Stream ``trajectory`` through the hooks; returns ``self`` (results in ``results``)."""
        from .readers import iter_chunks

        chunks = iter_chunks(trajectory, chunk_size=self.chunk_size, cell=cell, time_ps=time_ps,
                             unwrap=self.needs_unwrapped, **reader_kwargs)
        if self.progress:
            from tqdm.auto import tqdm

            chunks = tqdm(chunks, desc=type(self).__name__, unit="chunk")
        self.n_frames_ = 0
        prepared = False
        for chunk in chunks:
            if not prepared:
                self._prepare(chunk)
                prepared = True
            self._single_frame(chunk)
            self.n_frames_ += chunk.n_frames
        if not prepared:
            raise InputError("trajectory has no frames")
        self.results_ = self._conclude()
        return self

    @property
    def results(self) -> Results:
        if self.results_ is None:
            raise NotFittedError(f"{type(self).__name__}.run() has not been called yet")
        return self.results_
