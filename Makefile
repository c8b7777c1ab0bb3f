# LightningStor developer workflow. `make help` lists the targets; see README.md.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Where pip puts uv when scripts/bootstrap.sh installs it (plain and --user installs). Appended,
# so a uv already on PATH wins.
PIP_SCRIPT_DIRS := $(shell python3 -c 'import sysconfig as s; print(s.get_path("scripts") + ":" + s.get_path("scripts", s.get_preferred_scheme("user")))' 2>/dev/null)
export PATH := $(PATH):$(PIP_SCRIPT_DIRS):$(HOME)/.local/bin
# uv uses the machine's Python, never one it downloads.
export UV_PYTHON_DOWNLOADS := never
# uv trusts the machine's CA bundle unless SSL_CERT_FILE says otherwise.
ifeq ($(SSL_CERT_FILE),)
ifneq ($(wildcard /etc/ssl/certs/ca-certificates.crt),)
export SSL_CERT_FILE := /etc/ssl/certs/ca-certificates.crt
endif
endif

ARGS ?=
PYTEST_ARGS ?=

.PHONY: help bootstrap run test check proto fmt bench bench-scale fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

bootstrap: ## install uv, etcd (Debian) and every package; idempotent
	@scripts/bootstrap.sh

run: ## install what the server needs, then run it on the embedded default (ARGS=...)
	@scripts/bootstrap.sh --runtime
	uv run --no-sync lightningstor-server $(ARGS)

test: bootstrap ## install everything, run the static checks and the whole test suite
	@status=0; \
	scripts/check.sh || status=$$?; \
	uv run pytest -n auto $(PYTEST_ARGS) || status=$$?; \
	exit $$status

check: bootstrap ## ruff, ruff format --check, mypy --strict, import-linter, generated code
	@scripts/check.sh

proto: bootstrap ## regenerate the protobuf code in lightningstor_types from proto/
	uv run python scripts/gen_protos.py

fmt: bootstrap ## format the code and apply ruff's safe fixes
	uv run ruff format .
	uv run ruff check --fix .

bench: bootstrap ## LightningStor (embedded, etcd) vs moto and Ceph RGW, one run (ARGS="--out FILE")
	uv run python scripts/bench.py $(ARGS)

bench-scale: bootstrap ## GET/HEAD/LIST of one bucket from 10^3 to 10^6 objects, embedded and etcd (1 h or more)
	uv run python scripts/bench_scale.py $(ARGS)

fuzz: bootstrap ## the long fuzz run of both APIs: 10^6 inputs (ARGS="--inputs N --seed S")
	uv run python -m tests.fuzz $(ARGS)

clean: ## remove caches and build output (keeps .venv and ./data)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .import_linter_cache dist build
	find . -path ./.venv -prune -o \( -name __pycache__ -o -name '*.egg-info' \) -type d -prune \
		-exec rm -rf {} +
