# Set-up, tests and the local network. Every target does its own set-up, idempotently:
# a second run finds the stamps up to date and does nothing slow.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SOLC_VERSION := $(shell node -p 'require("./package.json").dependencies.solc')
SOLCX := $(or $(SOLCX_BINARY_PATH),$(HOME)/.solcx)
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)

.PHONY: setup test test-quick lint demo bench clean

setup: .stamps/venv .stamps/npm $(SOLCX)/solc-v$(SOLC_VERSION)

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

$(SOLCX)/solc-v$(SOLC_VERSION): tools/solc.js tools/install-solc .stamps/npm
	tools/install-solc

lint: setup
	ruff check agents scripts tests bench
	ruff format --check agents scripts tests bench
	mypy
	tools/slither

# Two passes: everything on ape's in-process chain (tests that need real services start their own anvil
# and IPFS daemons), then the token and the protocol end to end on an anvil that ape starts.
test: setup lint
	ape compile
	ape test tests -m "not anvil_only and not e2e" -p no:cacheprovider
	ape test tests/token tests/protocol/e2e --network ethereum:local:foundry -p no:cacheprovider

demo: setup
	aoai devnet up --demo

bench: setup
	python -m bench.gas_token
	python -m bench.gas_protocol
	python -m bench.aggregation

clean:
	rm -rf .stamps .build $(VENV) node_modules
