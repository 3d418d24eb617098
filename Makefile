# Two commands on a fresh clone: `make demo` and `make test`. Each bootstraps its own virtualenv.
PYTHON ?= python3
VENV := .venv
DEVICE_VENV := .venv-device
MEDIAPIPE_VENV := .venv-mediapipe
TFLITE_VENV := .venv-tflite-runtime
CONVERT_VENV := .venv-convert
IMX500_VENV := .venv-imx500
PYTHON311 ?= python3.11
PIP_FLAGS ?= --disable-pip-version-check -q

.PHONY: demo test test-all lint docs bench bench-venvs clean venvs imx500-venv system-packages system-packages-venv devicelab test-devicelab system-packages-devicelab

# Debian packages, installed only when missing (scripts/system-packages.sh: sudo when not root,
# `apt-get update` only when something is missing). `make test` needs system-packages.txt (add to
# that list); every venv needs python3.X-venv, but only when $(PYTHON) is Debian's own /usr/bin
# Python (pyenv, conda and python.org builds bundle ensurepip). DRY_RUN=1 prints what is missing
# and installs nothing; SKIP_SYSTEM_PACKAGES=1 leaves the system alone.
VENV_DEBIAN_PACKAGE := $(shell $(PYTHON) -c 'import sys; print("python3.%d-venv" % sys.version_info[1] if sys.prefix == "/usr" else "")' 2>/dev/null)
system_packages = $(if $(SKIP_SYSTEM_PACKAGES),@echo "system packages: not checked (SKIP_SYSTEM_PACKAGES): $(1)",@sh scripts/system-packages.sh $(if $(DRY_RUN),--dry-run) $(1))

system-packages-venv:
	$(if $(VENV_DEBIAN_PACKAGE),$(call system_packages,$(VENV_DEBIAN_PACKAGE)),@true)

system-packages: system-packages-venv
	$(call system_packages,--list system-packages.txt)

$(VENV)/.installed: pyproject.toml | system-packages-venv
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/pip install $(PIP_FLAGS) -e ".[dev]"
	touch $@

# What a Raspberry Pi gets: edgevision[device], no TensorFlow; plus pytest, paho-mqtt and playwright, because the
# device-side tests (tests/device, tests/deploy, tests/bench) run in it (and the import-boundary tests use it).
$(DEVICE_VENV)/.installed: pyproject.toml | system-packages-venv
	$(PYTHON) -m venv $(DEVICE_VENV)
	$(DEVICE_VENV)/bin/pip install $(PIP_FLAGS) -e ".[device-test]"
	touch $@

# MediaPipe Tasks for the interop test. It pins numpy<2 and its own OpenCV, so it never shares an env.
$(MEDIAPIPE_VENV)/.installed: | system-packages-venv
	$(PYTHON) -m venv $(MEDIAPIPE_VENV)
	$(MEDIAPIPE_VENV)/bin/pip install $(PIP_FLAGS) "mediapipe==0.10.21"
	touch $@

# tflite-runtime 2.14 (the interpreter many Pi images run) for the cross-interpreter benchmarks and report
# test. Its wheels are built against NumPy 1.x, so it gets its own env and never meets ai-edge-litert.
$(TFLITE_VENV)/.installed: pyproject.toml | system-packages-venv
	$(PYTHON) -m venv $(TFLITE_VENV)
	$(TFLITE_VENV)/bin/pip install $(PIP_FLAGS) "tflite-runtime==2.14.0" "numpy<2" "opencv-python-headless>=4.8,<4.11"
	$(TFLITE_VENV)/bin/pip install $(PIP_FLAGS) -e .
	touch $@

# The bring-your-own-model converters for ONNX and PyTorch (onnx2tf, onnxruntime, torch CPU): large, so they
# stay out of the default train/dev install. torch is pinned to the CPU wheel the tests were written against.
$(CONVERT_VENV)/.installed: pyproject.toml | system-packages-venv
	$(PYTHON) -m venv $(CONVERT_VENV)
	$(CONVERT_VENV)/bin/pip install $(PIP_FLAGS) -e ".[pytorch,zoo]" "torch==2.13.0"
	touch $@

# Sony's IMX500 (Raspberry Pi AI Camera) toolchain: Model Compression Toolkit + imxconv-tf. Its TensorFlow
# front end needs Python 3.11, TensorFlow 2.14-2.15 and numpy<2, so it lives in its own env and edgevision
# drives it through a worker script (files in, files out). imxconv runs Java (openjdk-17-jre-headless,
# in system-packages.txt). `make test-all` builds it for the slow IMX500 tests.
$(IMX500_VENV)/.installed: | system-packages-venv
	$(PYTHON311) -m venv $(IMX500_VENV)
	$(IMX500_VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(IMX500_VENV)/bin/pip install $(PIP_FLAGS) "edge-mdt[tf]" "tensorflow-cpu==2.15.*" "numpy<2"
	touch $@

imx500-venv: $(IMX500_VENV)/.installed

bench-venvs: $(TFLITE_VENV)/.installed

venvs: $(VENV)/.installed $(DEVICE_VENV)/.installed $(MEDIAPIPE_VENV)/.installed $(CONVERT_VENV)/.installed bench-venvs

demo: $(VENV)/.installed
	$(VENV)/bin/edgevision demo

TEST_ENV = EDGEVISION_DEVICE_PYTHON=$(CURDIR)/$(DEVICE_VENV)/bin/python \
           EDGEVISION_DESKTOP_PYTHON=$(CURDIR)/$(VENV)/bin/python \
           EDGEVISION_MEDIAPIPE_PYTHON=$(CURDIR)/$(MEDIAPIPE_VENV)/bin/python \
           EDGEVISION_TFLITE_RUNTIME_PYTHON=$(CURDIR)/$(TFLITE_VENV)/bin/python \
           EDGEVISION_CONVERT_PYTHON=$(CURDIR)/$(CONVERT_VENV)/bin/python \
           EDGEVISION_IMX500_PYTHON=$(CURDIR)/$(IMX500_VENV)/bin/python \
           EDGEVISION_REQUIRE_ALL=1

# The device side is tested as it is installed: tests/device, tests/deploy and tests/bench run in the
# TensorFlow-free venv (their models are committed under tests/fixtures/models), everything else in the desktop one.
DEVICE_TESTS = tests/device tests/deploy tests/bench
DESKTOP_TESTS = $(addprefix --ignore=,$(DEVICE_TESTS))

test: system-packages venvs
	$(TEST_ENV) $(VENV)/bin/python -m pytest $(DESKTOP_TESTS) $(PYTEST_ARGS)
	$(TEST_ENV) $(DEVICE_VENV)/bin/python -m pytest $(DEVICE_TESTS) $(PYTEST_ARGS)

test-all: system-packages venvs $(IMX500_VENV)/.installed
	$(TEST_ENV) $(VENV)/bin/python -m pytest -m "" $(DESKTOP_TESTS) $(PYTEST_ARGS)
	$(TEST_ENV) $(DEVICE_VENV)/bin/python -m pytest -m "" $(DEVICE_TESTS) $(PYTEST_ARGS)

# The device lab (slow, root): emulated Raspberry Pi userlands under qemu-user, booted with their own systemd
# by systemd-nspawn and reached over SSH (tests/devicelab). Each rootfs is built once and cached as
# ~/.cache/edgevision-lab/TARGET.tar. LAB_TARGETS=bookworm-arm64 limits both to some targets.
LAB_TARGETS ?= bookworm-arm64 trixie-arm64 bookworm-armhf
LAB_CACHE ?= $(HOME)/.cache/edgevision-lab

# The lab's own Debian packages (not needed by `make test`): qemu-user for arm64/armhf binaries,
# mmdebstrap (with arch-test) to build each rootfs, systemd-nspawn to boot it.
system-packages-devicelab:
	$(call system_packages,--list device/lab/system-packages.txt)

# Every target is built whatever happens to the others (a mirror mid-sync is retried with backoff);
# one line each at the end (built / cached / failed and why), non-zero when any failed.
devicelab: system-packages-devicelab
	@sh device/lab/build_all.sh $(LAB_CACHE) $(LAB_TARGETS)

# The tests run for every target whose rootfs exists; a target whose build failed fails its tests
# with the build's reason (never skipped). Non-zero when a build or a test failed.
test-devicelab: $(VENV)/.installed system-packages-devicelab
	@sh device/lab/build_all.sh $(LAB_CACHE) $(LAB_TARGETS); built=$$?; \
	EDGEVISION_LAB_REQUIRE=1 EDGEVISION_LAB_CACHE=$(LAB_CACHE) EDGEVISION_LAB_TARGETS="$(shell echo $(LAB_TARGETS) | tr ' ' ',')" \
	  $(VENV)/bin/python -m pytest -m slow tests/devicelab -v -s --timeout 7200 $(PYTEST_ARGS); tested=$$?; \
	[ $$built -eq 0 ] && [ $$tested -eq 0 ]

# The benchmark suites (benchmarks/suites/): each prints ratios measured in one run. benchmarks/run_suites.py runs
# them all, whatever each does, and writes one dated record of this machine's run,
# benchmarks/results/YYYY-MM-DD-MACHINE.md; non-zero at the end if a suite failed (see benchmarks/README.md).
# BENCH_QUICK=1: small round counts, a smoke test (record ...-quick.md); BENCH_ARGS="--only bench_pipeline".
BENCH_ENV = EDGEVISION_DEVICE_PYTHON=$(CURDIR)/$(DEVICE_VENV)/bin/python \
            EDGEVISION_TFLITE_RUNTIME_PYTHON=$(CURDIR)/$(TFLITE_VENV)/bin/python \
            EDGEVISION_CONVERT_PYTHON=$(CURDIR)/$(CONVERT_VENV)/bin/python

bench: venvs
	$(BENCH_ENV) $(VENV)/bin/python benchmarks/run_suites.py $(if $(filter-out 0,$(BENCH_QUICK)),--quick) $(BENCH_ARGS)

# ruff, and the import contracts of docs/architecture.md ("Imports go one way"; pyproject's [tool.importlinter]).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check edgevision tests benchmarks
	$(VENV)/bin/lint-imports --no-cache

# The documentation site (mkdocs.yml, docs/) into site/; tests/test_docs.py builds it with --strict in `make test`.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) $(DEVICE_VENV) $(MEDIAPIPE_VENV) $(TFLITE_VENV) $(CONVERT_VENV) $(IMX500_VENV) demo-output \
		.pytest_cache site
