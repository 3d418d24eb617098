"""One fuzz target under atheris (libFuzzer, coverage-guided).

``python tests/fuzz/run_target.py TARGET SECONDS OUT [--grow]``.

The edgevision modules the target reaches are instrumented for coverage; libFuzzer starts from the
committed seeds (``tests/fuzz/corpus/TARGET``, read only) and keeps the inputs it finds that reach new
code in ``OUT/corpus`` (with ``--grow``, in the committed corpus itself: how it is grown). A crash (an
exception other than one ``error:`` line's), a run over ``-timeout`` seconds or over the RSS limit writes
its input to ``OUT/`` and ends the run non-zero. libFuzzer's report (``stat::number_of_executed_units``
and the rest, with ``-print_final_stats``) is on stderr.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

# the edgevision modules each target reaches (instrumented for coverage when imported below)
MODULES = {
    "labels": ["edgevision.model.labels"],
    "flatbuffer": ["edgevision.model.flatbuf", "edgevision.model.tflite_tables", "edgevision.model.tflite_file",
                   "edgevision.model.zip_directory", "edgevision.model.metadata", "edgevision.model.spec",
                   "edgevision.model.artifact", "edgevision.model.labels"],
    "tar_archive": ["edgevision.releases.archive", "edgevision.releases.manifest", "edgevision.documents",
                    "edgevision.plainfile"],
    "zip_directory": ["edgevision.model.zip_directory", "edgevision.model.tflite_file",
                      "edgevision.imx500.rpk_release"],
    "manifest": ["edgevision.releases.manifest", "edgevision.releases.runtime_config",
                 "edgevision.releases.config_checks", "edgevision.documents"],
    "runtime_config": ["edgevision.releases.runtime_config", "edgevision.releases.config_checks",
                       "edgevision.documents", "edgevision.optionspec"],
    "profile_toml": ["edgevision.documents"],
    "results_import": ["edgevision.bench.result_store", "edgevision.bench.record", "edgevision.documents"],
    "mjpeg_stream": ["edgevision.sources.mjpeg"],
    "web_request": ["edgevision.sinks.web_auth"],
    "reference_profile": ["edgevision.model.reference_profile", "edgevision.pipeline.drift", "edgevision.documents"],
    "drift_state": ["edgevision.pipeline.drift", "edgevision.pipeline.drift_schema", "edgevision.documents"],
    "samples_stream": ["edgevision.deploy.samples_pull", "edgevision.releases.archive",
                       "edgevision.sinks.sample_store", "edgevision.sinks.sample_schema"],
}
RSS_LIMIT_MB = int(os.environ.get("EDGEVISION_FUZZ_RSS_MB", "512"))
TIMEOUT_S = 10


def fresh_peak() -> None:
    """Run the rest of this script in a forked child, exec'd again, and exit with its status.

    Linux keeps a process's peak RSS (``ru_maxrss``, what libFuzzer's ``-rss_limit_mb`` reads) across execve:
    a runner started by a large process (a pytest that has loaded TensorFlow, ~800 MB) would begin "using"
    that process's peak and be stopped as out of memory on its first inputs. A forked child starts its count
    afresh, from this small interpreter."""
    if os.environ.get("EDGEVISION_FUZZ_FRESH") == "1":
        return
    pid = os.fork()
    if pid == 0:
        os.environ["EDGEVISION_FUZZ_FRESH"] = "1"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)


def main() -> None:
    fresh_peak()
    import atheris

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    target, seconds, out = args[0], int(args[1]), Path(args[2])
    grow = "--grow" in sys.argv
    with atheris.instrument_imports(include=["edgevision"]):
        for module in MODULES[target]:
            importlib.import_module(module)
    from tests.fuzz.targets import ALLOWED, TARGETS

    one = TARGETS[target]

    def test_one_input(data: bytes) -> None:
        try:
            one(data)
        except ALLOWED:
            pass

    seeds = REPO / "tests" / "fuzz" / "corpus" / target
    found = out / "corpus"
    found.mkdir(parents=True, exist_ok=True)
    dirs = [seeds] if grow else [found, seeds]  # libFuzzer writes what it finds into the first folder
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", f"-rss_limit_mb={RSS_LIMIT_MB}",
                   f"-malloc_limit_mb={RSS_LIMIT_MB}", f"-timeout={TIMEOUT_S}", f"-artifact_prefix={out}/",
                   "-print_final_stats=1", "-close_fd_mask=1", *map(str, dirs)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
