# Two entry points: `make run` (serve with demo data) and `make test` (everything).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: run test install lint format bench bench-dbops clean

# requirements.txt pins what the runtime dependencies pull in; the dev tools
# install on top of exactly those versions.
$(STAMP): pyproject.toml requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

.env:
	@$(PYTHON) scripts/bootstrap_env.py .env

# `make run PORT=8001 HOST=0.0.0.0` (or PORT/HOST in the environment or .env);
# serve prints the addresses, or says what to do when the port is taken.
run: $(STAMP) .env
	$(BIN)/mandate-vault db upgrade head
	$(BIN)/mandate-vault seed
	$(BIN)/mandate-vault serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

test: $(STAMP)
	@bash scripts/ensure_system_packages.sh
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --cov=app --cov-report=term:skip-covered $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/server_ready.py

# Database operations figures (needs PostgreSQL; 1M mandates + 2M audit rows, minutes).
bench-dbops: $(STAMP)
	$(BIN)/python bench/dbops_backup.py
	$(BIN)/python bench/dbops_copy.py
	$(BIN)/python bench/dbops_retention.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
