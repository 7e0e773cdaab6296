# The twin's two commands: `make run` (set up, start PostGIS and mosquitto, load Maribor, serve
# the app with the MQTT ingest worker behind it) and `make test` (lint, types, tests against a
# throwaway PostGIS). `make run SIM_RATE=20` also simulates the synthetic sensors (msg/s).
BIN := .venv/bin
PORT ?= 8501
SIM_RATE ?= 0

.PHONY: setup setup-run setup-test setup-bench run db mqtt load synth test lint bench clean

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

mqtt: setup-run
	$(BIN)/twin mqtt up

# The shipped ARSO hour is ingested too (replaying it stores nothing), so the Sensors page
# shows the real stations' readings from the first run.
load: db
	$(BIN)/twin load maribor
	$(BIN)/twin ingest arso gis_data/air_quality_arso_sample.xml

synth: load
	$(BIN)/twin synth --seed 1 --unless-present

run: synth mqtt
	@scripts/run.sh $(PORT) $(SIM_RATE)

lint: setup-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy twin

test: lint
	$(BIN)/pytest

bench: setup-bench
	$(BIN)/python -m bench.run

clean:
	-$(BIN)/twin mqtt down
	-$(BIN)/twin db down
	rm -rf .twin
