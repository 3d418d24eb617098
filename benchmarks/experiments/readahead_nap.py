"""A/B of the read-ahead's napping consumer: a 640x480 MJPEG file through the pipeline with the loop
polling in short naps for the next frame (``PipelineOptions.read_ahead_nap_s``, the default) vs blocking at once.

For the decode-dominated small model that ``runtime_frames.py`` picks on this machine (the case the naps are
for) and for MobileNetV2 224 (model-bound: frames are waiting, so it should not change), alternating rounds
print FPS and process CPU (cores) of both, medians, and napping / blocking. Context, no target: a bare
``cap.read()`` loop while another thread of the process sleeps blocked vs naps (``time.sleep(0)`` in a loop),
what an idle vCPU beside the decoder does to the decode itself on this machine.

    .venv/bin/python benchmarks/experiments/readahead_nap.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.mjpeg_clip import decode_dominated, decode_fps, make_clip
from benchmarks.lib.models import median, mobilenet_v2
from benchmarks.lib.paced_camera import loadavg
from edgevision.sources.frame_sources import DECODE_THREADS

SKIP = 10  # the first events (the adaptive probe, the warm-up) are left out


def run_once(clf, clip: Path, nap_s: float) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Steady-state FPS (from the events' t_emit) and the process's CPU use (cores) over the run."""
    from edgevision.pipeline.realtime import Pipeline, PipelineOptions
    from edgevision.sources.frame_sources import open_source

    c0 = os.times()
    t = [e.t_emit for e in Pipeline(clf, open_source(str(clip)), PipelineOptions(read_ahead_nap_s=nap_s)).events()]
    c1 = os.times()
    t = t[SKIP:]
    cpu = (c1.user + c1.system - c0.user - c0.system) / (c1.elapsed - c0.elapsed)
    return (len(t) - 1) / (t[-1] - t[0]), cpu


def bare_decode(clip: Path, other: str) -> float:
    """runtime_frames' bare one-thread decode while another thread of this process is blocked or napping."""
    stop = threading.Event()

    def beside() -> None:
        while not stop.is_set():
            if other == "nap":
                time.sleep(0)
            else:
                stop.wait(1.0)

    th = threading.Thread(target=beside, daemon=True)
    th.start()
    try:
        return decode_fps(clip, DECODE_THREADS)
    finally:
        stop.set()
        th.join()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    from edgevision.cli.run_exec import SWITCH_INTERVAL_S
    from edgevision.pipeline.realtime import PipelineOptions
    from edgevision.runtime.classifier import Classifier, ClassifierOptions

    sys.setswitchinterval(SWITCH_INTERVAL_S)  # as `edgevision run` sets it
    nap = PipelineOptions().read_ahead_nap_s
    print(f"load {loadavg()}, {args.threads} interpreter thread(s), {args.rounds} alternating rounds, medians; "
          f"nap budget {nap * 1e3:g} ms")
    with tempfile.TemporaryDirectory() as d:
        clip = Path(d) / "clip.avi"
        make_clip(clip, args.frames)
        small, _, decode = decode_dominated(clip, args.threads)
        for model in (small, mobilenet_v2(224)["int8"]):
            clf = Classifier(model, options=ClassifierOptions(threads=args.threads))
            got: dict[float, list[tuple[float, float]]] = {nap: [], 0.0: []}
            for i in range(2 * args.rounds):
                nap_s = nap if i % 2 else 0.0
                got[nap_s].append(run_once(clf, clip, nap_s))
            f_nap, c_nap = (median([r[k] for r in got[nap]]) for k in (0, 1))
            f_block, c_block = (median([r[k] for r in got[0.0]]) for k in (0, 1))
            ratio = median([a[0] / b[0] for a, b in zip(got[nap], got[0.0], strict=True)])
            versus = f" (bare 1/decode {decode:.0f} FPS; napping run / that = {f_nap / decode:.3f})"
            versus = versus if model == small else ""
            print(f"[{model.stem.removesuffix('_int8')}] blocking {f_block:.0f} FPS on {c_block:.2f} cores, napping "
                  f"{f_nap:.0f} FPS on {c_nap:.2f} cores; napping / blocking = {ratio:.3f} (median of pairs){versus}")
        bare: dict[str, list[float]] = {"blocked": [], "nap": []}
        for _ in range(args.rounds):
            for other in bare:
                bare[other].append(bare_decode(clip, other))
        b, n = median(bare["blocked"]), median(bare["nap"])
        print(f"[context] bare decode while another thread is blocked {b:.0f} FPS, while it naps {n:.0f} FPS "
              f"(napping / blocked = {n / b:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
