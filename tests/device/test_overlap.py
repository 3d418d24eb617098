"""Inference overlapped with everything else: the reader makes input tensors when it has time to spare,
and the model runs in a thread of its own while the caller ranks and emits.

The orders and values must not change: every test compares with the serial path.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgevision.pipeline.infer_worker import END, IDLE, InferWorker
from edgevision.pipeline.realtime import Pipeline, PipelineOptions
from edgevision.runtime.classifier import Classifier
from edgevision.runtime.frames import Frame
from edgevision.sources.frame_sources import open_source
from edgevision.sources.readahead import ReadAhead
from tests.device.test_frame_path import CountingSource


@pytest.mark.parametrize("variant", ["int8", "float32"])
def test_a_staged_tensor_gives_the_scores_of_set_input(models, variant: str) -> None:
    clf = Classifier(getattr(models, variant))
    stage = clf.stager()
    rng = np.random.default_rng(1)
    for shape in ((48, 64), (32, 32), (100, 30)):
        rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        reference = clf.scores(rgb)
        staged = stage(bgr, "BGR")
        assert staged.tensor.shape == tuple(clf.input_detail["shape"][1:]) and staged.ms >= 0
        np.testing.assert_array_equal(clf.scores_timed_staged(staged).scores, reference)
        assert stage(rgb, "RGB").tensor is not staged.tensor  # a new tensor each time: safe to hand over


@pytest.mark.parametrize("variant", ["int8", "float32"])
def test_classify_and_rank_output_give_what_ranking_the_dequantized_scores_gives(models, variant: str) -> None:
    clf = Classifier(getattr(models, variant))
    rng = np.random.default_rng(2)
    for _ in range(4):
        rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        scores = clf.scores(rgb)
        for k in (1, 2, clf.num_outputs):
            assert clf.classify(rgb, k) == clf.rank(scores, k)
        raw = clf.invoke_frame(rgb)
        want = clf.rank(scores, 2, 0.1)
        assert clf.rank_output(raw.output, 2, 0.1) == clf.rank(clf.finish(raw).scores, 2, 0.1) == want
    assert (clf._ranker is not None) == (variant == "int8")


def test_read_ahead_prepares_frames_only_while_the_consumer_is_behind() -> None:
    made: list[int] = []

    def prepare(frame: Frame) -> Frame:
        made.append(frame.index)
        return frame

    slow = ReadAhead(CountingSource(30), depth=3, prepare=prepare).start()
    got = []
    while (f := slow.read()) is not None:
        time.sleep(0.003)  # a slow consumer: frames wait for it, so the reader prepares them
        got.append(f.index)
    slow.close()
    assert got == list(range(30)) and len(made) >= 20

    made.clear()

    class SlowSource(CountingSource):
        def read(self) -> Frame | None:
            time.sleep(0.003)  # a slow source: the consumer is always waiting, frames go over at once
            return super().read()

    fast = ReadAhead(SlowSource(30), depth=3, prepare=prepare).start()
    assert [f.index for f in iter(fast.read, None)] == list(range(30))
    fast.close()
    assert len(made) <= 3


def test_read_ahead_leaves_a_frame_it_cannot_prepare_to_the_consumer() -> None:
    def prepare(frame: Frame) -> Frame:
        raise ValueError("bad frame")

    ahead = ReadAhead(CountingSource(10), depth=3, prepare=prepare).start()
    time.sleep(0.1)
    assert [f.index for f in iter(ahead.read, None)] == list(range(10)) and ahead.prepared == 0
    ahead.close()


def _worker(frames: list[object], infer, limit: int | None = None) -> tuple[InferWorker, threading.Event]:  # type: ignore[no-untyped-def]
    items = iter(frames)
    stop = threading.Event()
    return InferWorker(lambda: next(items, END), infer, stop, limit).start(), stop


def _frame(i: int) -> Frame:
    return Frame(np.zeros((2, 2, 3), np.uint8), i, "t", time.time(), 0.0)


def test_infer_worker_keeps_order_skips_idle_takes_and_stops_at_the_limit() -> None:
    worker, _ = _worker([_frame(0), IDLE, _frame(1), IDLE, IDLE, _frame(2), _frame(3)], lambda f: f.index * 10)
    assert [(f.index, r) for f, r in worker] == [(0, 0), (1, 10), (2, 20), (3, 30)]
    worker.close()
    limited, _ = _worker([_frame(i) for i in range(10)], lambda f: f.index, limit=3)
    assert [r for _, r in limited] == [0, 1, 2]
    limited.close()


def test_infer_worker_raises_an_error_at_its_place_in_the_stream() -> None:
    def infer(frame: Frame) -> int:
        if frame.index == 2:
            raise RuntimeError("interpreter failed")
        return frame.index

    worker, _ = _worker([_frame(i) for i in range(5)], infer)
    got = []
    with pytest.raises(RuntimeError, match="interpreter failed"):
        for _, r in worker:
            got.append(r)
    assert got == [0, 1]
    worker.close()


def test_infer_worker_stops_when_told_even_if_nobody_reads() -> None:
    stop = threading.Event()
    worker = InferWorker(lambda: _frame(0), lambda f: f.index, stop, poll_s=0.02).start()
    time.sleep(0.1)  # the queue is full and the worker waits to put
    worker.close(timeout=2.0)
    assert not worker._thread.is_alive()


def _clip(models, path: Path, n: int = 16) -> Path:  # type: ignore[no-untyped-def]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    images = sorted((models.data / "test").rglob("*.png"))
    for p in images[:n]:
        writer.write(cv2.resize(cv2.imread(str(p)), (64, 48)))
    writer.release()
    return path


def test_overlapped_pipeline_gives_the_serial_events(models, tmp_path: Path) -> None:
    clip = _clip(models, tmp_path / "clip.avi")
    clf = Classifier(models.int8)
    def run(**options: object) -> list[tuple]:
        pipeline = Pipeline(clf, open_source(clip), PipelineOptions(**options))  # type: ignore[arg-type]
        return [(e.frame, e.label, e.top_k) for e in pipeline.events()]

    overlapped = run(overlap=True)
    assert overlapped == run(overlap=False) == run() == run(read_ahead=0) and len(overlapped) == 16
    assert run(max_frames=5, smooth=3, overlap=True) == run(max_frames=5, smooth=3, overlap=False)
    assert len(run(max_frames=5, overlap=True)) == len(run(max_frames=12)) - 7 == 5


def test_the_model_runs_in_its_own_thread_and_the_caller_can_stop_early(models, tmp_path: Path) -> None:
    clip = _clip(models, tmp_path / "clip.avi")
    clf = Classifier(models.int8)
    threads: set[str] = set()
    real = clf.invoke_staged

    def spy(staged):  # type: ignore[no-untyped-def]
        threads.add(threading.current_thread().name)
        return real(staged)

    clf.invoke_staged = spy  # type: ignore[method-assign]
    clf.invoke_frame = lambda image, order="RGB", _real=clf.invoke_frame: (  # type: ignore[method-assign]
        threads.add(threading.current_thread().name), _real(image, order))[1]
    pipeline = Pipeline(clf, open_source(clip), PipelineOptions(overlap=True))
    for n, _ in enumerate(pipeline.events(), 1):
        if n == 3:
            break  # the caller leaves early: the worker and the reader stop
    assert threads == {"edgevision-infer"}
    assert pipeline.stats.frames == 3 and pipeline.stop.is_set()
    time.sleep(0.3)
    assert not any(t.name in ("edgevision-infer", "edgevision-readahead") for t in threading.enumerate())


class TimedModel:
    """A stand-in backend whose "inference" takes ``infer_s``: the adaptive choice is about time only."""

    infer_on = ""
    model_name = "timed"

    def __init__(self, infer_s: float) -> None:
        from edgevision.runtime.interpreter import RuntimeInfo

        self.infer_s = infer_s
        self.threads: list[str] = []
        self.info = RuntimeInfo("stand-in", "0", 1)

    def wanted_input(self) -> None:
        return None

    def stager(self) -> None:
        return None

    def infer_frame(self, frame: Frame):  # type: ignore[no-untyped-def]
        from edgevision.runtime.backend import Timed

        self.threads.append(threading.current_thread().name)
        time.sleep(self.infer_s)
        return Timed(np.array([float(frame.image[0, 0, 0]), 1.0], np.float32), 0.0, self.infer_s * 1e3)

    def finish(self, raw):  # type: ignore[no-untyped-def]
        raise AssertionError("the stand-in hands over finished scores")

    def postprocessor(self, smooth: int = 1):  # type: ignore[no-untyped-def]
        from edgevision.runtime.classification import Ranking

        return Ranking(self, smooth)  # type: ignore[arg-type]

    def rank(self, scores: np.ndarray, k: int | None = None, threshold: float | None = None) -> list:
        from edgevision.runtime.postprocess import Prediction

        return [Prediction("a", float(scores[0]), 0)]

    def describe(self) -> dict:
        return {}

    def close(self) -> None:
        pass


class PacedSource(CountingSource):
    def __init__(self, n: int, read_s: float) -> None:
        super().__init__(n)
        self.read_s = read_s

    def read(self) -> Frame | None:
        t0 = time.perf_counter()
        time.sleep(self.read_s)
        frame = super().read()
        if frame is None:
            return None
        return Frame(frame.image, frame.index, frame.source, frame.t_capture, (time.perf_counter() - t0) * 1e3)


@pytest.mark.parametrize(("infer_s", "read_s", "threaded"), [(0.004, 0.0005, True), (0.0005, 0.004, False)])
def test_the_model_gets_its_own_thread_only_when_it_is_the_slower_side(infer_s: float, read_s: float,
                                                                         threaded: bool) -> None:
    from edgevision.pipeline.realtime import PROBE_FRAMES

    model = TimedModel(infer_s)
    events = list(Pipeline(model, PacedSource(30, read_s), PipelineOptions()).events())  # type: ignore[arg-type]
    assert [e.frame for e in events] == list(range(30)) and [e.score for e in events] == [float(i) for i in range(30)]
    assert model.threads[:PROBE_FRAMES] == ["MainThread"] * PROBE_FRAMES  # timed on the caller's thread first
    assert set(model.threads[PROBE_FRAMES:]) == ({"edgevision-infer"} if threaded else {"MainThread"})


def test_infer_worker_runs_at_most_depth_results_ahead_of_its_caller() -> None:
    """Bounded memory: a caller that stalls (a slow sink) holds back the worker, not a growing queue."""
    calls: list[int] = []
    stop = threading.Event()
    n = iter(range(1000))
    worker = InferWorker(lambda: _frame(next(n)), lambda f: calls.append(f.index) or f.index, stop,
                         depth=2, poll_s=0.02).start()
    time.sleep(0.2)
    assert len(calls) == 3  # two waiting for the caller, a third inferred and waiting for room
    got = iter(worker)
    assert [next(got)[1] for _ in range(4)] == [0, 1, 2, 3]
    time.sleep(0.2)
    assert len(calls) == 4 + 3
    worker.close(timeout=2.0)
