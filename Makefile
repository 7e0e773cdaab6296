# The twin's two commands: `make run` (set up, start PostGIS, load Maribor, serve the app)
# and `make test` (lint, types, tests against a throwaway PostGIS).
BIN := .venv/bin
PORT ?= 8501

.PHONY: setup setup-run setup-test setup-bench run db load synth test lint bench clean

# `setup` installs everything; each target below installs only what it needs.
setup:
	@scripts/setup.sh all

setup-run:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

setup-bench:
	@scripts/setup.sh bench

db: setup-run
	$(BIN)/twin db up

load: db
	$(BIN)/twin load maribor

synth: load
	$(BIN)/twin synth --seed 1 --unless-present

run: synth
	$(BIN)/twin serve app --port $(PORT)

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy twin

test: lint
	$(BIN)/pytest

bench: setup-bench
	$(BIN)/python -m bench.run

clean:
	-$(BIN)/twin db down
	rm -rf .twin
