# The twin's two commands: `make run` (set up, start PostGIS, load Maribor, serve the app)
# and `make test` (lint, types, tests against a throwaway PostGIS).
BIN := .venv/bin
PORT ?= 8501

.PHONY: setup run db load test lint bench clean

setup:
	@scripts/setup.sh

db: setup
	$(BIN)/twin db up

load: db
	$(BIN)/twin load maribor

run: load
	$(BIN)/twin serve app --port $(PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy twin

test: lint
	$(BIN)/pytest

bench: setup
	$(BIN)/python -m bench.run

clean:
	-$(BIN)/twin db down
	rm -rf .twin
