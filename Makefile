# Two entry points: `make run` (serve with demo data) and `make test` (everything).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: run test install lint format bench bench-dbops clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

.env:
	@$(PYTHON) scripts/bootstrap_env.py .env

run: $(STAMP) .env
	$(BIN)/mandate-vault db upgrade head
	$(BIN)/mandate-vault seed
	@echo "Dashboard: http://127.0.0.1:8000   API docs: http://127.0.0.1:8000/docs"
	$(BIN)/mandate-vault serve --host 127.0.0.1 --port 8000

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
