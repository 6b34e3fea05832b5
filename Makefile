# Quick start: `make run` (set up + start the app), `make test` (set up + run the tests).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The versions the tests last passed with: every set-up installs these, so a fresh clone gets
# what CI tested, not whatever was released since. `make lock` refreshes it.
LOCK   := constraints.txt

.PHONY: setup run test lint bench clean package test-tools lock

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile $(LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	# torch first and pinned to the CPU build, so nothing below pulls the CUDA one.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -c $(LOCK) -e ".[dev,lora]"
	touch $(STAMP)

# The newest releases pyproject.toml allows, in a scratch venv, written to $(LOCK); then run
# `make test` and `make package` before committing it.
LOCK_VENV := build/lock-venv
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip wheel setuptools
	$(LOCK_VENV)/bin/python -m pip install --quiet "torch==2.13.0"
	$(LOCK_VENV)/bin/python -m pip install --quiet -e ".[dev,lora,package]"
	{ echo "# make lock: the versions make setup installs (see Makefile)"; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable | sed 's/^torch==.*/torch==2.13.0/'; } > $(LOCK)
	rm -rf $(LOCK_VENV)

run: setup
	$(VENV)/bin/familiar

# The GUI tests run in a process of their own: one QApplication, and no worker threads left
# over from the core tests competing with the main-thread heartbeat test.
test: setup test-tools
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(PY) -m pytest -q --ignore=tests/ui $(PYTEST_ARGS)
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(PY) -m pytest -q tests/ui $(PYTEST_ARGS)

# desktop-file-validate and appstreamcli for tests/packaging: installed when missing if we are
# root with apt-get (no prompt); otherwise those tests skip and say why.
test-tools:
	@command -v desktop-file-validate >/dev/null 2>&1 && command -v appstreamcli >/dev/null 2>&1 \
	|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	     && { DEBIAN_FRONTEND=noninteractive apt-get install -y -q desktop-file-utils appstream >/dev/null 2>&1 \
	          || { apt-get update -q >/dev/null 2>&1 \
	               && DEBIAN_FRONTEND=noninteractive apt-get install -y -q desktop-file-utils appstream >/dev/null 2>&1; }; }; } \
	|| echo "note: desktop-file-utils/appstream not installed; their packaging tests will skip"

# The one-folder bundle in dist/familiar (packaging/familiar.spec, docs/packaging.md), then its
# smoke test and its size and start-up figures. build/ keeps PyInstaller's cache between runs.
BUNDLE := dist/familiar
PACKAGE_STAMP := $(VENV)/.package-installed

$(PACKAGE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -c $(LOCK) -e ".[dev,package]"
	touch $(PACKAGE_STAMP)

package: setup test-tools $(PACKAGE_STAMP)
	$(PY) -m PyInstaller --noconfirm --log-level WARN packaging/familiar.spec
	FAMILIAR_BUNDLE=$(BUNDLE) QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 \
		$(PY) -m pytest -q tests/packaging/test_bundle_smoke.py
	$(PY) packaging/measure_bundle.py $(BUNDLE)

lint: setup
	$(VENV)/bin/ruff check app tests tools
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build dist *.egg-info
