"""Runs many fuzz cases through the real CLI in one process: ``python tests/fuzz_worker.py CASES RESULTS``.

Each case is an argv for ``edgevision`` (info, run, doctor, device install …). The CLI's own entry
point runs in-process, so hundreds of cases cost one interpreter start; whatever escapes it (an
uncaught exception is what a user would see as a traceback) is recorded, a case that takes longer
than its alarm is recorded as a hang, and the peak RSS of the whole process is reported at the end.
A crash (segfault) ends the worker: the test sees which case it was from the progress file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
import sys
import traceback
from pathlib import Path


class Hang(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Hang()


def run_case(argv: list[str], alarm_s: int) -> dict:
    from edgevision.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    result: dict = {"argv": argv}
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(alarm_s)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(argv)
        result["code"] = 0
    except SystemExit as exc:
        result["code"] = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except Hang:
        result["code"], result["hang"] = None, True
    except BaseException:  # noqa: BLE001 - exactly what the harness looks for
        result["code"], result["traceback"] = None, traceback.format_exc()[-3000:]
    finally:
        signal.alarm(0)
    result["stderr"] = err.getvalue()[-2000:]
    return result


def peak_rss_mb() -> float:
    """This process's RSS high-water mark. Not getrusage's ru_maxrss: on Linux that keeps the RSS the
    parent had when it forked us (a pytest process with TensorFlow loaded), which is not ours."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    cases = json.loads(Path(sys.argv[1]).read_text())
    results_path, alarm_s = Path(sys.argv[2]), int(os.environ.get("FUZZ_ALARM_S", "30"))
    progress = results_path.with_suffix(".progress")
    results = []
    for i, argv in enumerate(cases):
        progress.write_text(json.dumps({"index": i, "argv": argv}))
        results.append(run_case(argv, alarm_s))
        results[-1]["peak_rss_mb"] = peak_rss_mb()  # so far
    results_path.write_text(json.dumps({"results": results, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
