# Image Explainer: GNU make targets for Linux and macOS (Windows: see README.md).
#
#   make run        start the app (creates .venv and installs pinned packages on first use)
#   make test       the whole test suite, headless
#   make app        build the double-click app into dist/ImageExplainer/ (PyInstaller)
#   make test-app   build it, then run the built app's self-test
#   make clean      remove build output; make distclean also removes .venv

PYTHON ?= python3
VENV   ?= .venv
VPY    := $(VENV)/bin/python
PIP    := $(VPY) -m pip --disable-pip-version-check
PIP_INSTALL := $(PIP) install --quiet --progress-bar off -c constraints.txt
APP    := dist/ImageExplainer/ImageExplainer
PYTEST_ARGS ?=

# Everything that goes into the built app: rebuild when any of it changes.
APP_SOURCES := main.py build.spec $(shell find engine gui resources -type f \
	-not -path '*/__pycache__/*' -not -name '*.pyc' 2>/dev/null)

CHECK_PYTHON = import sys; v = sys.version_info; \
	sys.exit(0 if v >= (3, 11) else "error: Python 3.11 or newer is needed, but " + sys.executable + \
	" is " + sys.version.split()[0] + ". Run: make PYTHON=python3.11 ...  (or remove $(VENV) and retry)")

.PHONY: run test app test-app imports bench bench-quick venv deps dev-deps constraints clean distclean help
.DEFAULT_GOAL := help

help:
	@echo "make run       start the app"
	@echo "make test      run all tests headless (QT_QPA_PLATFORM=offscreen)"
	@echo "make app       build dist/ImageExplainer/ with PyInstaller"
	@echo "make test-app  build the app and run its self-test"
	@echo "make clean     remove build/ and dist/ (distclean: also .venv)"

# ----------------------------------------------------------------------------- environment

$(VPY):
	@$(PYTHON) -c '$(CHECK_PYTHON)'
	$(PYTHON) -m venv $(VENV)

venv: $(VPY)
	@$(VPY) -c '$(CHECK_PYTHON)'

# Stamps: pip runs again only when a requirements file changed.
$(VENV)/.installed: requirements.txt constraints.txt | $(VPY)
	@$(VPY) -c '$(CHECK_PYTHON)'
	@echo "Installing the app's packages into $(VENV) (first time: several minutes) ..."
	$(PIP_INSTALL) -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt constraints.txt | $(VPY)
	@$(VPY) -c '$(CHECK_PYTHON)'
	@echo "Installing the app's and the test/build packages into $(VENV) (first time: several minutes) ..."
	$(PIP_INSTALL) -r requirements-dev.txt
	@touch $(VENV)/.installed $@

deps: $(VENV)/.installed
dev-deps: $(VENV)/.installed-dev

# Re-lock transitive versions after changing requirements*.txt and testing.
constraints: $(VENV)/.installed-dev
	@{ echo "# Every package of the dev environment at the version tested (pip freeze), used as"; \
	   echo "# pip install -c constraints.txt so transitive dependencies are reproducible too."; \
	   echo "# Regenerate with: make constraints"; \
	   $(PIP) freeze --exclude-editable | grep -v -i '^pip=='; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt
	@touch $(VENV)/.installed $(VENV)/.installed-dev
	@echo "constraints.txt updated"

# ----------------------------------------------------------------------------- use

run: $(VENV)/.installed
	$(VPY) main.py $(ARGS)

test: $(VENV)/.installed-dev
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest $(PYTEST_ARGS)

# The Qt-free engine contract alone (tests/engine/test_import_contract.py runs it too).
imports: $(VENV)/.installed-dev
	$(VENV)/bin/lint-imports --no-cache

# Seed recipes against the engine, side by side (bench/run.py).
bench: $(VENV)/.installed
	$(VPY) -m bench.run $(ARGS)

bench-quick: $(VENV)/.installed
	$(VPY) -m bench.run --quick $(ARGS)

# ----------------------------------------------------------------------------- frozen app

app: $(APP)

$(APP): $(VENV)/.installed-dev $(APP_SOURCES)
	$(VPY) -m PyInstaller --noconfirm --log-level WARN --distpath dist --workpath build build.spec
	@touch $@
	@du -sh dist/ImageExplainer

test-app: app
	$(VPY) -m pytest tests/app -m app $(PYTEST_ARGS)

# ----------------------------------------------------------------------------- tidy

clean:
	rm -rf build dist .pytest_cache .import_linter_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
