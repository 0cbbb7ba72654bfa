"""AnalysisBase: the three hooks are abstract; a subclass that fills them streams every frame once."""
import numpy as np
import pytest

from multiscale.analysis import AnalysisBase, Results


class FrameCount(AnalysisBase):
    def _prepare(self, first):
        self.seen = 0

    def _single_frame(self, chunk):
        self.seen += chunk.n_frames

    def _conclude(self):
        r = Results(title="frames")
        r.meta["n_frames"] = self.seen
        return r


def test_base_and_incomplete_subclasses_cannot_be_instantiated():
    with pytest.raises(TypeError, match="abstract"):
        AnalysisBase()

    class NoConclude(AnalysisBase):
        def _prepare(self, first):
            pass

        def _single_frame(self, chunk):
            pass

    with pytest.raises(TypeError, match="_conclude"):
        NoConclude()


def test_every_frame_reaches_the_hooks_once_across_chunks():
    pos = np.random.default_rng(0).random((10, 4, 3))
    a = FrameCount(chunk_size=3).run(pos, cell=np.eye(3) * 5.0)
    assert a.results.meta["n_frames"] == 10 == a.n_frames_
