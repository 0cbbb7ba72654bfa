"""MSD by FFT: direct-sum identity, MDAnalysis agreement, Einstein D, Yeh–Hummer."""
import numpy as np
import pytest

from multiscale.analysis import MSD, msd_fft_sum, yeh_hummer_correction
from multiscale.errors import InputError


def test_fft_equals_direct_sum(rng):
    x = np.cumsum(rng.normal(size=(37, 4, 3)), axis=0)
    direct = np.array([np.mean(np.sum((x[m:] - x[:len(x) - m]) ** 2, axis=2), axis=0).sum() for m in range(37)])
    assert np.allclose(msd_fft_sum(x), direct, rtol=1e-10, atol=1e-9)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_matches_mdanalysis_einstein_msd(rng):
    pytest.importorskip("tidynamics")     # MDAnalysis' FFT MSD needs it
    import MDAnalysis as mda
    from MDAnalysis.analysis.msd import EinsteinMSD

    x = np.cumsum(rng.normal(scale=0.3, size=(200, 30, 3)), axis=0).astype(np.float32)
    u = mda.Universe.empty(30, trajectory=True)
    u.load_new(x, order="fac")
    ref = EinsteinMSD(u, select="all", msd_type="xyz", fft=True).run()
    res = MSD(None, chunk_size=17).run(x.astype(float), timestep_ps=1.0).results
    ours = res["MSD"] * 1e20
    # lag 0 is zero up to FFT round-off in both codes; every other lag agrees to 1e-6 relative
    assert abs(ours[0]) < 1e-9 and abs(ref.results.timeseries[0]) < 1e-9
    assert np.allclose(ours[1:], ref.results.timeseries[1:], rtol=1e-6, atol=0)


def test_brownian_diffusion_coefficient(rng):
    d_true = 0.4     # Å²/ps
    dt = 0.1
    box = 20.0
    x = np.cumsum(rng.normal(scale=np.sqrt(2 * d_true * dt), size=(2000, 200, 3)), axis=0)
    wrapped = x % box
    res = MSD(n_blocks=5, max_memory_MB=2).run(wrapped, cell=[box] * 3, timestep_ps=dt).results
    d = res.meta["diffusivity_m2_s"] / 1e-8
    err = res.meta["diffusivity_error_m2_s"] / 1e-8
    assert d == pytest.approx(d_true, rel=0.03)
    assert abs(d - d_true) < 4 * err
    lo, hi = res.meta["fit_window_s"]
    assert 0 < lo < hi
    xy = MSD(msd_type="xy").run(x, timestep_ps=dt).results
    assert xy.meta["diffusivity_m2_s"] / 1e-8 == pytest.approx(d_true, rel=0.04)


def test_yeh_hummer():
    # SPC/E-like numbers: kT/(6πηL) with η = 0.729 mPa s, L = 3 nm, 300 K
    corr = yeh_hummer_correction(300.0, 0.729e-3, 3e-9)
    assert corr == pytest.approx(2.837297 * 1.380649e-23 * 300 / (6 * np.pi * 0.729e-3 * 3e-9), rel=1e-9)
    x = np.cumsum(np.full((60, 2, 3), 0.1), axis=0)
    res = MSD(viscosity_Pa_s=0.729e-3, temperature_K=300.0).run(x, cell=[30.0] * 3, timestep_ps=1.0).results
    assert res.meta["diffusivity_corrected_m2_s"] == pytest.approx(res.meta["diffusivity_m2_s"] + corr, rel=1e-12)
    with pytest.raises(InputError, match="cubic"):
        MSD(viscosity_Pa_s=1e-3, temperature_K=300.0).run(x, cell=[30.0, 30.0, 40.0], timestep_ps=1.0)


def test_msd_bad_input():
    with pytest.raises(InputError, match="msd_type"):
        MSD(msd_type="w")
    with pytest.raises(InputError, match="frame times"):
        MSD().run(np.zeros((20, 2, 3)))
    with pytest.raises(InputError, match="together"):
        MSD(viscosity_Pa_s=1e-3)
    with pytest.raises(InputError, match="fit_window_ps"):
        MSD(fit_window_ps=(5.0, 1.0)).run(np.zeros((20, 2, 3)), timestep_ps=1.0)
