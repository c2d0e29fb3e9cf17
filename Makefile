# `make run` starts the dashboard, `make test` runs every test (`make check`
# the linters CI runs first); both first
# create .venv, install the pinned requirements and prepare the model cache.
VENV := .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-12)
# glibc's malloc asks for transparent huge pages for large blocks: loading the
# model fills ~2 GB of fresh TensorFlow buffers, and with 4 KiB pages their
# page faults cost up to 2–5 s of a warm start. On by default: across six
# comparisons on four hosts it was faster in four and 0.55 s faster on
# average; the two losses were within a host's minute-to-minute swing
# (docs/benchmarks.md, "Huge pages"). `GLIBC_TUNABLES= make run` turns it off.
export GLIBC_TUNABLES ?= glibc.malloc.hugetlb=1

.PHONY: run test check setup model bench

run: model
	$(PYTHON) -m streamlit run app.py

test: model
	$(PYTHON) -m pytest

# Style and types: ruff over the repository, mypy (strict) over promptkit/.
check: setup
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy

setup: $(INSTALLED)

model: setup
	$(PYTHON) -m promptkit prepare

bench: model
	$(PYTHON) bench/bench_generation.py

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@
