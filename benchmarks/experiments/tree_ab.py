"""Cold start and frame path: an older edgevision tree against this one, in one run, interleaved.

    .venv/bin/python benchmarks/experiments/tree_ab.py --old PATH [--rounds 7] [--cg-rounds 3] [--jobs 2]

``PATH`` is a checkout of an older edgevision (its ``edgevision/`` package). Both trees run in the TF-free
device venv (``.venv-device``, what a Pi installs), each from a venv holding a compiled copy of its package
as a wheel installs it (``lib/installed_copy.py``: no editable finder on either side). A third side, "bare",
is the runtime_frames baseline: the minimal ai-edge-litert script for the start and the naive serial loop
(cvtColor -> resize -> set_tensor -> invoke -> argmax) for the frames; every measure is also printed as a
ratio to it, for both trees.

Measures (1 interpreter thread everywhere):

- start, exec -> first label: ``edgevision run MODEL --source IMG --quiet`` on the tiny test model, to the
  first line on stdout (wall) and the whole process (instructions); bare: the minimal script.
- its parts, each in a fresh interpreter of that tree: exec + the imports (every module ``edgevision run``
  had imported by its exit, recorded from the tree's own run, imported in that order), the model load
  (``Classifier(model)``), the first frame (``cv2.imread`` + ``classify``). Instructions of a part are the
  difference between the processes that stop after it and before it. What the CLI adds on top (parsing,
  the run's configuration, opening the source, the event and its output, exit) is the whole minus the parts.
- frames in memory: ``edgevision.stream`` over a source that hands out decoded 640x480 frames on the loop's
  thread (no decode, no thread: what the pipeline, the backend and the event cost a frame), each event
  serialised as a JSONL sink writes it; bare: the naive loop over the same frames.
- frames of a 640x480 MJPEG file: ``edgevision run MODEL --source clip.avi --out F --no-stdout`` (decode,
  read-ahead thread, file sink, as a user runs it); wall from the events' ``t_emit`` after ``SKIP`` frames;
  bare: the naive loop over the file. The read-ahead's naps make this one's instruction count move a little
  from run to run (threads); the in-memory one is deterministic.

Both frame paths run on the tiny test model and on MobileNetV2 224 int8 (``lib/models.py``, cached; built
with TensorFlow on first use). Instructions per frame are ``(I(n2) - I(n1)) / (n2 - n1)`` of two runs that
differ only in their frame count, so start-up cancels.

Counters: instructions come from ``valgrind --tool=callgrind`` (a load-independent count: the same on a busy
machine, so those runs go ``--jobs`` at a time; ``perf stat`` needs a PMU, which a VM often lacks); valgrind is
a system package (``apt-get install valgrind``), needed by this experiment only (``--no-instructions`` skips
it). Wall times are medians of ``--rounds`` rounds that alternate old, new and bare (the order rotates each
round), run one at a time; new/old is the median of the per-round ratios. The load average is printed
with them: wall ratios on a shared 2-core machine move by a few percent, instruction ratios do not.
``--keep DIR`` keeps the callgrind files (``callgrind_annotate`` shows where two trees differ).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks.lib, edgevision
from benchmarks.lib.installed_copy import installed_venv
from benchmarks.lib.minimal_start import MINIMAL
from benchmarks.lib.mjpeg_clip import make_clip
from benchmarks.lib.models import median, mobilenet_v2
from benchmarks.lib.paced_camera import loadavg

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "fixtures" / "models" / "tiny_int8.tflite"
SKIP = 10  # file runs: the first events (warm-up, the adaptive probe) are left out of the wall time
WARM = 5   # in-memory runs: frames before the timed ones

# What `edgevision run` imported by its exit, in import order (sys.modules keeps it), for the parts.
RECORD = r"""
import atexit, sys
_to = sys.argv[1]
def _dump():
    with open(_to, "w") as f:
        f.write("\n".join(n for n, m in list(sys.modules.items())
                          if n != "__main__" and getattr(m, "__spec__", None) is not None))
atexit.register(_dump)
sys.argv = ["edgevision", *sys.argv[2:]]
from edgevision.cli.main import main
main()
"""

# The start's parts in a fresh interpreter of one tree, up to ``stage``; wall times from exec (t0 = argv).
PARTS = r"""
import sys, time
t0, stage, model, image, mods = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
import importlib
with open(mods) as f:
    names = f.read().split()
for name in names:
    importlib.import_module(name)
t1 = time.time()
out = {"imports": t1 - t0}
if stage != "imports":
    from edgevision.runtime.classifier import Classifier, ClassifierOptions
    clf = Classifier(model, options=ClassifierOptions(threads=1))
    t2 = time.time()
    out["load"] = t2 - t1
    if stage == "frame":
        import cv2
        clf.classify(cv2.imread(image), order="BGR")
        out["frame"] = time.time() - t2
print(*(f"{k}={v!r}" for k, v in out.items()), flush=True)
"""

# Decoded frames in memory, the same for every side: the first frames of the clip, BGR as OpenCV gives them.
FRAMES = r"""
import sys, time
import cv2
model, clip, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cap = cv2.VideoCapture(clip)
frames = [cap.read()[1] for _ in range(8)]
cap.release()
marks = []
"""

# Frames in memory through one tree's pipeline (edgevision.stream): no decode, no reader thread (kind "image":
# the loop reads it on its own thread); each event serialised as the JSONL sink writes it.
STREAM = FRAMES + r"""
import edgevision
try:
    from edgevision.runtime.frames import Frame, SourceInfo
except ImportError:  # the layout before runtime/frames.py
    from edgevision.device.frames import Frame, SourceInfo

class Memory:
    live = False
    def __init__(self, total):
        self.total, self.i = total, 0
    def open(self):
        return SourceInfo("memory", "image", False, None, 640, 480, "BGR")
    def read(self):
        if self.i >= self.total:
            return None
        i, self.i = self.i, self.i + 1
        return Frame(frames[i % len(frames)], i, "memory", time.time(), 0.0, "BGR")
    def close(self):
        pass

for event in edgevision.stream(model, Memory(WARM + n), threads=1, top_k=3):
    event.to_json()
    marks.append(time.perf_counter())
print((marks[-1] - marks[WARM - 1]) / n, flush=True)
""".replace("WARM", str(WARM))

# The naive serial loop of runtime_frames, over frames in memory or (with a fourth argument) over the clip.
NAIVE = FRAMES + r"""
import numpy as np
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=model, num_threads=1)
it.allocate_tensors()
inp, out = it.get_input_details()[0], it.get_output_details()[0]
_, h, w, _ = (int(v) for v in inp["shape"])
from_file = len(sys.argv) > 4
skip = int(sys.argv[4]) if from_file else WARM
cap = cv2.VideoCapture(clip) if from_file else None
for i in range(skip + n):
    if cap is not None:
        ok, bgr = cap.read()
        if not ok:
            break
    else:
        bgr = frames[i % len(frames)]
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    it.set_tensor(inp["index"], cv2.resize(rgb, (w, h))[None])
    it.invoke()
    int(np.argmax(it.get_tensor(out["index"])[0]))
    marks.append(time.perf_counter())
print((marks[-1] - marks[skip - 1]) / (len(marks) - skip), flush=True)
""".replace("WARM", str(WARM))


@dataclass
class Side:
    """One side of the comparison: a tree's installed copy, or the bare scripts (``root`` None)."""

    name: str
    python: Path
    script: Path | None = None
    modules: Path | None = None
    root: Path | None = None
    walls: dict[str, list[float]] = field(default_factory=dict)
    instr: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Models:
    tiny: Path
    big: Path | None


@dataclass(frozen=True)
class Inputs:
    clip: Path
    image: Path
    out: Path  # a scratch folder for the runs' event files


def env(counted: bool = False) -> dict[str, str]:
    """A plain environment: nothing of this process's venv or PYTHONPATH reaches the children. Counted runs
    keep OpenBLAS (numpy's) to one thread, since its idle pool threads spin for as long as the process takes (a
    count that follows the timing and callgrind's 50x slowdown, not the work), and fix the string hash seed,
    which otherwise moves dict and set probing, and so the count, from one process to the next."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
            "TF_CPP_MIN_LOG_LEVEL": "2"}
    return {**base, "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0"} if counted else base


def check(proc: subprocess.CompletedProcess[str], what: str) -> str:
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise SystemExit(f"error: {what} exited {proc.returncode}: {' | '.join(tail)}")
    return proc.stdout


# --- the commands, per side ---------------------------------------------------------------------------

def start_cmd(side: Side, model: Path, io: Inputs) -> list[str]:
    if side.script is None:
        return [str(side.python), "-c", MINIMAL, str(model), str(io.image), "0", "1"]  # T0 unused here; 1 thread
    return [str(side.script), "run", str(model), "--source", str(io.image), "--threads", "1", "--quiet"]


def part_cmd(side: Side, stage: str, model: Path, io: Inputs, t0: float = 0.0) -> list[str]:
    assert side.modules is not None
    return [str(side.python), "-c", PARTS, repr(t0), stage, str(model), str(io.image), str(side.modules)]


def memory_cmd(side: Side, model: Path, io: Inputs, n: int) -> list[str]:
    script = NAIVE if side.script is None else STREAM
    return [str(side.python), "-c", script, str(model), str(io.clip), str(n)]


def file_cmd(side: Side, model: Path, io: Inputs, n: int, out: Path) -> list[str]:
    if side.script is None:
        return [str(side.python), "-c", NAIVE, str(model), str(io.clip), str(n), str(SKIP)]
    return [str(side.script), "run", str(model), "--source", str(io.clip), "--out", str(out), "--no-stdout",
            "--quiet", "--threads", "1", "--max-frames", str(SKIP + n)]


# --- wall time ----------------------------------------------------------------------------------------

def first_line_s(cmd: list[str], cwd: Path) -> float:
    """exec -> the first line on stdout (the first label), seconds."""
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env(), text=True, cwd=cwd)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.time() - t0
    proc.stdout.read()
    if proc.wait(60) != 0 or not line.strip():
        raise SystemExit(f"error: no label from {' '.join(cmd[:3])}")
    return elapsed


def parts_s(side: Side, model: Path, io: Inputs) -> dict[str, float]:
    t0 = time.time()
    cmd = part_cmd(side, "frame", model, io, t0)
    out = check(subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=120, cwd=io.out),
                f"{side.name} parts")
    return {k: float(v) for k, v in (kv.split("=") for kv in out.strip().splitlines()[-1].split())}


def per_frame_s(side: Side, kind: str, model: Path, io: Inputs, n: int) -> float:
    if kind == "memory" or side.script is None:
        cmd = memory_cmd(side, model, io, n) if kind == "memory" else file_cmd(side, model, io, n, io.out)
        out = check(subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=600, cwd=io.out),
                    f"{side.name} {kind}")
        return float(out.strip().splitlines()[-1])
    events = io.out / f"{side.name}.jsonl"
    events.unlink(missing_ok=True)
    check(subprocess.run(file_cmd(side, model, io, n, events), capture_output=True, text=True, env=env(),
                         timeout=600, cwd=io.out), f"{side.name} {kind}")
    t = [json.loads(line)["t_emit"] for line in events.read_text().splitlines()][SKIP - 1:]
    return (t[-1] - t[0]) / (len(t) - 1)


# --- instructions -------------------------------------------------------------------------------------

def callgrind(cmd: list[str], out: Path, cwd: Path) -> int:
    """Instructions executed by ``cmd`` (all its threads), counted by callgrind."""
    full = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "-q", *cmd]
    check(subprocess.run(full, capture_output=True, text=True, env=env(counted=True), timeout=3600, cwd=cwd),
          f"callgrind {' '.join(cmd[:2])}")
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"error: no totals in {out}")


@dataclass(frozen=True)
class Job:
    side: Side
    key: str      # the measure; for two-run measures, the key and the run ("@n1"/"@n2")
    cmd: tuple[str, ...]


def instruction_jobs(sides: list[Side], models: Models, io: Inputs, frames: dict[str, tuple[int, int]],
                     rounds: int) -> list[Job]:
    """Every callgrind run, rounds interleaved and sides alternating within each measure."""
    jobs: list[Job] = []
    for r in range(rounds):
        order = sides[r % len(sides):] + sides[:r % len(sides)]
        for side in order:
            jobs.append(Job(side, "start", tuple(start_cmd(side, models.tiny, io))))
            if side.script is not None:
                for stage in ("imports", "load", "frame"):
                    jobs.append(Job(side, f"part:{stage}", tuple(part_cmd(side, stage, models.tiny, io))))
            for label, model in (("tiny", models.tiny), ("big", models.big)):
                if model is None:
                    continue
                for kind in ("memory", "file"):
                    n1, n2 = frames[f"{kind}:{label}"]
                    for tag, n in (("n1", n1), ("n2", n2)):
                        out = io.out / f"cg-{side.name}-{kind}-{label}-{tag}-{r}.jsonl"
                        cmd = memory_cmd(side, model, io, n) if kind == "memory" else file_cmd(side, model, io, n, out)
                        jobs.append(Job(side, f"{kind}:{label}@{tag}", tuple(cmd)))
    return jobs


def run_instruction_jobs(jobs: list[Job], workers: int, keep: Path, cwd: Path) -> None:
    seen: dict[tuple[str, str], int] = {}
    named = []
    for job in jobs:
        i = seen[(job.side.name, job.key)] = seen.get((job.side.name, job.key), -1) + 1
        named.append((job, keep / f"{job.side.name}.{job.key.replace(':', '-').replace('@', '.')}.{i}.callgrind"))
    done = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(callgrind, list(job.cmd), path, cwd): job for job, path in named}
        for fut in concurrent.futures.as_completed(futures):
            job = futures[fut]
            job.side.instr.setdefault(job.key, []).append(fut.result())
            done += 1
            print(f"\r[instructions] {done}/{len(named)} callgrind runs (load {loadavg()})", end="", flush=True)
    print()


# --- the table ----------------------------------------------------------------------------------------

ROWS = (  # key, what, unit
    ("start", "start: exec -> first label, `run` on an image", "ms"),
    ("part:imports", "  part: exec + the run's imports", "ms"),
    ("part:load", "  part: model load (Classifier)", "ms"),
    ("part:frame", "  part: first frame (imread + classify)", "ms"),
    ("memory:tiny", "frames in memory, tiny model, per frame", "us"),
    ("memory:big", "frames in memory, MobileNetV2 224, per frame", "us"),
    ("file:tiny", "MJPEG file via `run`, tiny model, per frame", "us"),
    ("file:big", "MJPEG file via `run`, MobileNetV2 224, per frame", "us"),
)


def instructions(side: Side, key: str, frames: dict[str, tuple[int, int]]) -> list[float]:
    """Per-round instruction counts of a measure (a part: its stage minus the one before; frames: per frame)."""
    got = side.instr
    if key.startswith("part:"):
        stage = key.split(":")[1]
        before = {"imports": None, "load": "part:imports", "frame": "part:load"}[stage]
        if key not in got:
            return []
        return [a - (got[before][i] if before else 0) for i, a in enumerate(got[key])]
    if f"{key}@n1" not in got:
        return got.get(key, [])
    n1, n2 = frames[key]
    return [(b - a) / (n2 - n1) for a, b in zip(got[f"{key}@n1"], got[f"{key}@n2"], strict=True)]


def ratio(a: list[float], b: list[float]) -> float | None:
    """The median of per-round ratios a/b (rounds paired as they ran)."""
    pairs = [x / y for x, y in zip(a, b, strict=False) if y]
    return median(pairs) if pairs else None


def fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def cell(xs: list[float], counter: str, scale: float, unit: str) -> str:
    if not xs:
        return "—"
    if counter == "instructions":
        return f"{median(xs) / 1e6:,.2f} M"
    return f"{median(xs) * scale:,.1f} {unit}"


def table(old: Side, new: Side, bare: Side, frames: dict[str, tuple[int, int]]) -> list[str]:
    lines = ["| measure | counter | old | new | new/old | old/bare | new/bare |", "|---|---|---:|---:|---:|---:|---:|"]
    for key, what, unit in ROWS:
        scale = 1e3 if unit == "ms" else 1e6
        bare_key = "start" if key.startswith("part:") else key
        for counter in ("instructions", "wall"):
            if counter == "wall":
                o, n, b = old.walls.get(key, []), new.walls.get(key, []), bare.walls.get(bare_key, [])
            else:
                o, n = instructions(old, key, frames), instructions(new, key, frames)
                b = instructions(bare, bare_key, frames)
            if not o and not n:
                continue
            to_bare = key == bare_key  # a part has no bare counterpart of its own
            lines.append(f"| {what} | {counter} | {cell(o, counter, scale, unit)} | {cell(n, counter, scale, unit)} | "
                         f"{fmt(ratio(n, o), '.3f')} | "
                         f"{fmt(ratio(o, b) if to_bare else None, '.3f')} | "
                         f"{fmt(ratio(n, b) if to_bare else None, '.3f')} |")
    return lines


# --- setup --------------------------------------------------------------------------------------------

def tree_side(name: str, root: Path, device_python: Path, tmp: Path, io: Inputs, model: Path) -> Side:
    python, script = installed_venv(root, device_python, tmp / name)
    modules = tmp / f"{name}-modules.txt"
    cmd = [str(python), "-c", RECORD, str(modules), "run", str(model), "--source", str(io.image), "--threads",
           "1", "--quiet"]
    # children run in the scratch folder: a `python -c` puts its working directory first on sys.path, and a
    # checkout's edgevision/ there would shadow the tree under test
    check(subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=120, cwd=tmp),
          f"{name}: edgevision run")
    where = check(subprocess.run([str(python), "-c", "import edgevision; print(edgevision.__file__)"], cwd=tmp,
                                 capture_output=True, text=True, env=env()), f"{name}: import edgevision").strip()
    if not where.startswith(str(tmp / name)):
        raise SystemExit(f"error: {name}: edgevision comes from {where}, not from its installed copy")
    return Side(name, python, script, modules, root)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=Path, required=True, help="a checkout of an older edgevision")
    ap.add_argument("--rounds", type=int, default=7, help="wall-time rounds (old, new, bare alternating)")
    ap.add_argument("--cg-rounds", type=int, default=3, help="callgrind rounds")
    ap.add_argument("--jobs", type=int, default=2, help="callgrind runs at a time (counts do not depend on load)")
    ap.add_argument("--frames", type=int, default=200, help="timed frames of the tiny model's wall runs")
    ap.add_argument("--big-frames", type=int, default=60, help="timed frames of MobileNetV2 224's wall runs")
    ap.add_argument("--big", type=Path, default=None, help="the larger model (default MobileNetV2 224 int8)")
    ap.add_argument("--no-big", action="store_true", help="the tiny model only")
    ap.add_argument("--no-instructions", action="store_true", help="wall time only (no valgrind)")
    ap.add_argument("--no-wall", action="store_true", help="instructions only")
    ap.add_argument("--keep", type=Path, default=None, help="keep the callgrind files in this folder")
    ap.add_argument("--device-python", type=Path, default=ROOT / ".venv-device" / "bin" / "python",
                    help="the TF-free device venv's Python (default: this checkout's .venv-device)")
    ap.add_argument("--json", action="store_true", help="print the raw measurements as JSON too")
    args = ap.parse_args()

    old_root = args.old.resolve()
    if not (old_root / "edgevision" / "cli" / "main.py").is_file():
        print(f"error: --old {args.old}: no edgevision/cli/main.py there (a checkout of edgevision)", file=sys.stderr)
        return 2
    device_python = args.device_python
    if not device_python.exists():
        print(f"error: {device_python} not found (make venvs): both trees run in the TF-free device venv",
              file=sys.stderr)
        return 2
    if not args.no_instructions and shutil.which("valgrind") is None:
        print("error: valgrind not found: apt-get install valgrind (or --no-instructions)", file=sys.stderr)
        return 2
    big = None if args.no_big else (args.big or mobilenet_v2(224)["int8"])
    models = Models(TINY, big)
    # instructions per frame: two runs differing only in their frame count
    frames = {"memory:tiny": (20, 220), "file:tiny": (30, 110), "memory:big": (2, 7), "file:big": (4, 9)}
    print(f"old {old_root} ({git_head(old_root)}), new {ROOT} ({git_head(ROOT)}); load {loadavg()}; "
          f"{os.cpu_count()} CPUs; device venv {device_python}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        io = Inputs(tmp / "clip.avi", tmp / "frame.jpg", tmp)
        clip_frames = max(SKIP + args.frames, SKIP + args.big_frames, SKIP + frames["file:tiny"][1] + 1)
        make_clip(io.clip, clip_frames)
        import cv2

        cap = cv2.VideoCapture(str(io.clip))
        cv2.imwrite(str(io.image), cap.read()[1])
        cap.release()
        old = tree_side("old", old_root, device_python, tmp, io, models.tiny)
        new = tree_side("new", ROOT, device_python, tmp, io, models.tiny)
        bare = Side("bare", new.python)  # the device venv's packages without its editable finder, as the trees
        sides = [old, new, bare]
        for side in (old, new):
            assert side.modules is not None
            print(f"{side.name}: `edgevision run` imports {len(side.modules.read_text().split())} modules, "
                  f"{sum(n.startswith('edgevision') for n in side.modules.read_text().split())} of them edgevision's")
        if not args.no_wall:
            wall_rounds(sides, models, io, args)
        if not args.no_instructions:
            keep = args.keep or tmp / "callgrind"
            keep.mkdir(parents=True, exist_ok=True)
            jobs = instruction_jobs(sides, models, io, frames, args.cg_rounds)
            t0 = time.time()
            run_instruction_jobs(jobs, args.jobs, keep, io.out)
            print(f"[instructions] {len(jobs)} callgrind runs in {time.time() - t0:.0f} s, {args.jobs} at a time")
        wall = "no wall times" if args.no_wall else f"wall: medians of {args.rounds} rounds"
        counted = ("no instructions" if args.no_instructions
                   else f"instructions: medians of {args.cg_rounds} callgrind rounds")
        print(f"load {loadavg()} at the end; {wall}, {counted}; ratios are medians of per-round ratios")
        print("\n".join(table(old, new, bare, frames)))
        rest = [cli_rest(side) for side in (old, new)]
        if all(rest):
            print(f"the CLI's own share of the start (the whole minus the parts), instructions: old "
                  f"{rest[0] / 1e6:,.2f} M, new {rest[1] / 1e6:,.2f} M, new/old {rest[1] / rest[0]:.3f}")
        if args.json:
            print(json.dumps({s.name: {"wall_s": s.walls, "instructions": s.instr} for s in sides}))
    return 0


def cli_rest(side: Side) -> float | None:
    got = side.instr
    if "start" not in got or "part:frame" not in got:
        return None
    return median(got["start"]) - median(got["part:frame"])


def wall_rounds(sides: list[Side], models: Models, io: Inputs, args: argparse.Namespace) -> None:
    # warm the page cache for every side
    for side in sides:
        first_line_s(start_cmd(side, models.tiny, io), io.out)
    for r in range(args.rounds):
        order = sides[r % len(sides):] + sides[:r % len(sides)]
        for side in order:
            side.walls.setdefault("start", []).append(first_line_s(start_cmd(side, models.tiny, io), io.out))
            if side.script is not None:
                for stage, value in parts_s(side, models.tiny, io).items():
                    side.walls.setdefault(f"part:{stage}", []).append(value)
        for label, model, n in (("tiny", models.tiny, args.frames), ("big", models.big, args.big_frames)):
            if model is None:
                continue
            for kind in ("memory", "file"):
                for side in order:
                    side.walls.setdefault(f"{kind}:{label}", []).append(per_frame_s(side, kind, model, io, n))
        print(f"[wall] round {r + 1}/{args.rounds} done (load {loadavg()})", flush=True)


def git_head(root: Path) -> str:
    out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    raise SystemExit(main())
