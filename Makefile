# `make demo` and `make test` each create .venv and install what they need on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -q -c constraints.txt
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean axe audit audit-if-reachable
# axe-core for the dashboard's browser tests, from the npm registry (not committed)
AXE := .cache/axe-core/axe.min.js
AXE_VERSION := 4.14.1

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(PIP) -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/shelfwise demo

test: $(STAMP) $(AXE)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/bandit -q -c pyproject.toml -r src
	$(MAKE) --no-print-directory audit-if-reachable
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

axe: $(AXE)

$(AXE):
	mkdir -p .cache/axe-core
	cd .cache && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
		&& tar -xzf axe-core-$(AXE_VERSION).tgz -C axe-core --strip-components=1 package/axe.min.js package/LICENSE \
		&& rm axe-core-$(AXE_VERSION).tgz

# Known vulnerabilities in the installed packages, from PyPI's per-version JSON API. `make test`
# runs it when that API answers (asked for one release of pip); a machine that reaches only a
# package mirror cannot audit, and says so. `make audit` always runs it (failing where it cannot).
PYPI_JSON := https://pypi.org/pypi/pip/24.0/json
audit: $(STAMP)
	$(BIN)/pip-audit --progress-spinner off --skip-editable --strict

audit-if-reachable: $(STAMP)
	@if $(BIN)/python -c "import urllib.request; urllib.request.urlopen('$(PYPI_JSON)', timeout=10)" 2>/dev/null; \
	then $(BIN)/pip-audit --progress-spinner off --skip-editable --strict; \
	else echo "pip-audit: not run, $(PYPI_JSON) does not answer here (no vulnerability data to check against)"; fi

bench: $(STAMP)
	$(BIN)/python benchmarks/import_and_fit.py

clean:
	rm -rf $(VENV) .shelfwise reports .cache
