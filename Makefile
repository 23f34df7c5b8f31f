# Everything a new machine needs: `make demo` and `make test` create the environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(shell date +%Y%m%d-%H%M%S)

.PHONY: demo test bench reliability clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

# The seed's digits example: Random and Bayesian side by side, 50 training jobs each, 2 at a time.
demo: $(VENV)/.installed
	$(BIN)/python examples/digits/prepare_data.py
	$(BIN)/tunesmith tune examples/digits/random.yaml examples/digits/bayesian.yaml \
		--name random-$(STAMP) --name bayesian-$(STAMP)
	$(BIN)/tunesmith describe bayesian-$(STAMP)
	$(BIN)/tunesmith report random-$(STAMP) bayesian-$(STAMP) \
		-o .tunesmith/reports/digits-$(STAMP).html

test: $(VENV)/.installed
	tools/ensure-chromium
	tools/ensure-postgres
	$(BIN)/python -m pytest

bench: $(VENV)/.bench-installed
	$(BIN)/python benchmarks/optimizer_quality.py --quick
	$(BIN)/python benchmarks/overhead.py

# The reliability tests alone, keeping their figures for the README.
reliability: $(VENV)/.installed
	TUNESMITH_RELIABILITY_FIGURES=benchmarks/results/reliability.json \
		$(BIN)/python -m pytest tests/reliability

clean:
	rm -rf $(VENV) .tunesmith
