# Set-up, tests and the local network. Every target does its own set-up, idempotently:
# a second run finds the stamps up to date and does nothing slow.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)

.PHONY: setup solc test lint demo bench clean

setup: .stamps/venv .stamps/npm solc

.stamps/venv: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	mkdir -p .stamps && touch $@

# `npm ci` refuses this lock file: npm 11 leaves other platforms' optional binaries (anvil for darwin,
# arm64, win32) and a GitHub-only optional dependency of js-ipfs out of it. `npm install --no-save`
# installs exactly the locked versions and never rewrites the lock.
.stamps/npm: package.json package-lock.json
	npm install --no-audit --no-fund --no-save --loglevel=error
	mkdir -p .stamps && touch $@

# Always checked (it is cheap): the wrapper names this checkout's tools/solc.js, and another checkout
# sharing the same HOME may have registered its own in the meantime.
solc: .stamps/npm
	tools/install-solc

lint: setup
	ruff check agents scripts tests bench
	ruff format --check agents scripts tests bench
	mypy
	tools/slither

# Three passes, each its own ape session: the contracts, the learning core and billing on ape's
# in-process chain; the suites that start their own anvil and IPFS daemons (and processes); then the
# token and the protocol end to end on an anvil that ape starts.
# The first two run in two pytest-xdist workers; each worker of pass 2 starts its own anvil and IPFS
# daemon and takes a test file at a time (a module's fixtures stay in one worker). Its agent suites spend
# much of their time waiting for chain windows, so on 2 cores it takes two thirds of its serial time. The
# third pass, mostly one long end-to-end module, gains nothing from workers and stays serial.
test: setup lint
	ape compile
	ape test tests/token tests/billing tests/learning tests/attacks tests/fuzz tests/protocol -m "not anvil_only and not e2e" -p no:cacheprovider -n 2
	ape test tests/devnet tests/gateway tests/agents -p no:cacheprovider -n 2 --dist loadfile
	ape test tests/token tests/protocol/e2e --network ethereum:local:foundry -p no:cacheprovider

demo: setup
	aoai demo

# Flower, the peer the aggregation benchmark measures against, cannot share .venv (packaging pins clash).
.stamps/venv-flower: bench/requirements-flower.txt
	test -x .venv-flower/bin/python || $(PYTHON) -m venv .venv-flower
	.venv-flower/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements-flower.txt
	mkdir -p .stamps && touch $@

bench: setup .stamps/venv-flower
	python -m bench.gas_token
	python -m bench.gas_protocol
	python bench/aggregation.py
	python -m bench.gateway
	python -m bench.attacks
	python -m bench.fuzz
	python -m bench.round_overhead

clean:
	rm -rf .stamps .build $(VENV) .venv-flower node_modules
