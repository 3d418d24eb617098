# Two commands on a fresh clone: `make demo` and `make test`. Each bootstraps its own virtualenv.
PYTHON ?= python3
VENV := .venv
DEVICE_VENV := .venv-device
MEDIAPIPE_VENV := .venv-mediapipe
TFLITE_VENV := .venv-tflite-runtime
CONVERT_VENV := .venv-convert
PIP_FLAGS ?= --disable-pip-version-check -q

.PHONY: demo test test-all lint bench bench-venvs clean venvs

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/pip install $(PIP_FLAGS) -e ".[dev]"
	touch $@

# What a Raspberry Pi gets: edgevision[device] only, no TensorFlow (the import-boundary tests use it).
$(DEVICE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEVICE_VENV)
	$(DEVICE_VENV)/bin/pip install $(PIP_FLAGS) -e ".[device]"
	touch $@

# MediaPipe Tasks for the interop test. It pins numpy<2 and its own OpenCV, so it never shares an env.
$(MEDIAPIPE_VENV)/.installed:
	$(PYTHON) -m venv $(MEDIAPIPE_VENV)
	$(MEDIAPIPE_VENV)/bin/pip install $(PIP_FLAGS) "mediapipe==0.10.21"
	touch $@

# tflite-runtime 2.14 (the interpreter many Pi images run) for the cross-interpreter benchmarks and report
# test. Its wheels are built against NumPy 1.x, so it gets its own env and never meets ai-edge-litert.
$(TFLITE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TFLITE_VENV)
	$(TFLITE_VENV)/bin/pip install $(PIP_FLAGS) "tflite-runtime==2.14.0" "numpy<2" "opencv-python-headless>=4.8,<4.11"
	$(TFLITE_VENV)/bin/pip install $(PIP_FLAGS) -e .
	touch $@

# The bring-your-own-model converters for ONNX and PyTorch (onnx2tf, onnxruntime, torch CPU): large, so they
# stay out of the default train/dev install. torch is pinned to the CPU wheel the tests were written against.
$(CONVERT_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CONVERT_VENV)
	$(CONVERT_VENV)/bin/pip install $(PIP_FLAGS) -e ".[pytorch]" "torch==2.13.0"
	touch $@

bench-venvs: $(TFLITE_VENV)/.installed

venvs: $(VENV)/.installed $(DEVICE_VENV)/.installed $(MEDIAPIPE_VENV)/.installed $(CONVERT_VENV)/.installed bench-venvs

demo: $(VENV)/.installed
	$(VENV)/bin/edgevision demo

TEST_ENV = EDGEVISION_DEVICE_PYTHON=$(CURDIR)/$(DEVICE_VENV)/bin/python \
           EDGEVISION_MEDIAPIPE_PYTHON=$(CURDIR)/$(MEDIAPIPE_VENV)/bin/python \
           EDGEVISION_TFLITE_RUNTIME_PYTHON=$(CURDIR)/$(TFLITE_VENV)/bin/python \
           EDGEVISION_CONVERT_PYTHON=$(CURDIR)/$(CONVERT_VENV)/bin/python \
           EDGEVISION_REQUIRE_ALL=1

test: venvs
	$(TEST_ENV) $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-all: venvs
	$(TEST_ENV) $(VENV)/bin/python -m pytest -m "" $(PYTEST_ARGS)

# The benchmark suites: each prints ratios measured in one run (see benchmarks/README.md).
bench: venvs
	@for b in benchmarks/bench_*.py; do echo "== $$b"; EDGEVISION_TFLITE_RUNTIME_PYTHON=$(CURDIR)/$(TFLITE_VENV)/bin/python $(VENV)/bin/python $$b || exit 1; done

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check edgevision tests benchmarks

clean:
	rm -rf $(VENV) $(DEVICE_VENV) $(MEDIAPIPE_VENV) $(TFLITE_VENV) $(CONVERT_VENV) demo-output .pytest_cache
