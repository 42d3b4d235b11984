# The entry points a newcomer needs: `make demo`, `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run demo test lint types contracts unit bench bench-deps browser postgresql clean \
	container-tools image-base image image-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

config.toml:
	cp config.example.toml config.toml
	@echo "Created config.toml from config.example.toml; edit it to taste."

run: $(STAMP_RUN) config.toml
	$(BIN)/paperboy --config config.toml run

# The whole system on this machine, no Discord token: prints `Open http://127.0.0.1:PORT/`
# and runs until Ctrl-C. PORT=8000 make demo picks the port.
demo: $(STAMP_RUN)
	@$(BIN)/python -m demo

# Debian's Chromium, for the demo page's browser test (tests/e2e/test_demo.py). Installs it only
# when running as root and it is missing; otherwise says what to do.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then \
		echo "$(CHROMIUM) is installed."; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation; \
	else \
		echo "$(CHROMIUM) is missing; as root run: apt-get install chromium (the browser test is skipped without it)"; \
	fi

# Debian's PostgreSQL server binaries, for the PostgreSQL half of the tests (tests/pgcluster.py
# starts a throwaway cluster from them; nothing is left running). Installs them only when running
# as root and they are missing; otherwise says what to do. The package's own cluster is not
# needed, so it is not started.
PG_BIN_GLOB := /usr/lib/postgresql/*/bin/initdb
postgresql:
	@if ls $(PG_BIN_GLOB) >/dev/null 2>&1; then \
		echo "PostgreSQL server binaries: $$(ls $(PG_BIN_GLOB) | head -n 1 | xargs dirname)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; \
	else \
		echo "PostgreSQL server binaries are missing; as root run: apt-get install postgresql (the PostgreSQL half of the tests is skipped without them)"; \
	fi

# The container image, built and run with podman and no container registry (README, "Running
# it in Docker"). Its base is Debian bookworm's own Python 3.11, made by mmdebstrap from this
# machine's apt sources and imported as $(BASE_IMAGE); `make image` makes that base once (`make
# image-base` remakes it), then builds the Dockerfile on it as $(IMAGE). `make image-check` runs
# the image against the Discord stand-in (deploy/image_check.py). Run both as root. Neither is
# part of `make test` or CI: they take minutes and need podman.
IMAGE ?= localhost/paperboy:latest
BASE_IMAGE ?= localhost/paperboy-base:bookworm
DEBIAN_SUITE ?= bookworm
# mmdebstrap's mirror: this machine's own apt sources (a deb822 file, or a sources.list).
DEBIAN_SOURCES ?= $(firstword $(wildcard /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list))
# What python:3.11-slim has that Paperboy uses: Python with venv, CA certificates, /etc/services.
BASE_PACKAGES := python3,python3-venv,ca-certificates,netbase
# The merged-usr hook makes the merged /usr itself, so the usrmerge package (and Perl, 55 MB) stays
# out; documentation and translations are not installed.
BASE_SLIMMING := --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
	--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright'

# Options podman needs where its defaults fail (each empty elsewhere), found on this machine:
# - cgroup v1 with a controller on the v2 hierarchy too ("hybrid"): crun refuses to start any
#   container ("cgroups in hybrid mode not supported"); runc does not.
# - root without CAP_SYS_RESOURCE: podman asks for 1048576 open files, more than the hard limit,
#   and the container fails at setrlimit; ask for the hard limit this shell has instead (and
#   4096 processes: uid 10001 runs only Paperboy).
CGROUP_HYBRID = $(shell grep -qs . /sys/fs/cgroup/unified/cgroup.controllers && echo yes)
NO_SYS_RESOURCE = $(shell c=$$(awk '/^CapEff/ {print $$2}' /proc/self/status); \
	[ "$$(( 0x$$c >> 24 & 1 ))" = 0 ] && echo yes)
PODMAN = podman$(if $(CGROUP_HYBRID), --runtime runc)
PODMAN_RUN_OPTS = $(if $(NO_SYS_RESOURCE),--ulimit nofile=$(shell ulimit -Hn):$(shell ulimit -Hn) \
	--ulimit nproc=4096:4096)
# pip in the build trusts what this machine's pip trusts (a TLS-inspecting proxy's CA, through
# $PIP_CERT or the system bundle) and uses $PIP_INDEX_URL if set; neither stays in the image.
# The bundle is mounted over the base's own during each RUN: a mount on a new path would leave an
# empty file there in the image.
PIP_CA_BUNDLE ?= $(or $(PIP_CERT),/etc/ssl/certs/ca-certificates.crt)
IMAGE_CA_BUNDLE := /etc/ssl/certs/ca-certificates.crt
PIP_BUILD_OPTS = $(if $(wildcard $(PIP_CA_BUNDLE)),--volume $(PIP_CA_BUNDLE):$(IMAGE_CA_BUNDLE):ro \
	--build-arg PIP_CERT=$(IMAGE_CA_BUNDLE)) $(if $(PIP_INDEX_URL),--build-arg PIP_INDEX_URL=$(PIP_INDEX_URL))

# podman and mmdebstrap (and runc where crun cannot run), from Debian, when running as root and
# missing; otherwise says what to do.
container-tools:
	@missing="$$(command -v podman >/dev/null || echo podman) $$(command -v mmdebstrap >/dev/null || echo mmdebstrap) \
		$(if $(CGROUP_HYBRID),$$(command -v runc >/dev/null || echo runc))"; \
	if [ -z "$$(echo $$missing)" ]; then \
		echo "podman, mmdebstrap$(if $(CGROUP_HYBRID), and runc) are installed."; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	else \
		echo "Missing: $$missing; as root run: apt-get install $$missing"; exit 1; \
	fi

image-base: container-tools
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	mmdebstrap --variant=minbase --format=tar --include=$(BASE_PACKAGES) $(BASE_SLIMMING) \
		--customize-hook='rm -f "$$1"/etc/apt/sources.list "$$1"/etc/apt/sources.list.d/*' \
		$(DEBIAN_SUITE) "$$tmp/rootfs.tar" $(DEBIAN_SOURCES) && \
	$(PODMAN) import --change 'CMD ["python3"]' "$$tmp/rootfs.tar" $(BASE_IMAGE)

image: container-tools
	@$(PODMAN) image exists $(BASE_IMAGE) || $(MAKE) --no-print-directory image-base
	$(PODMAN) build --format docker $(PODMAN_RUN_OPTS) $(PIP_BUILD_OPTS) \
		--build-arg BASE_IMAGE=$(BASE_IMAGE) --tag $(IMAGE) .
	@$(PODMAN) image inspect $(IMAGE) --format 'Built $(IMAGE): {{.Size}} bytes'

# In a network namespace of its own: the stand-in and the container's port 8080 share a
# loopback with nothing else on the machine.
image-check: $(STAMP_RUN)
	PODMAN="$(PODMAN)" PODMAN_RUN_OPTS="$(PODMAN_RUN_OPTS)" unshare --net -- \
		sh -c 'ip link set lo up && exec $(BIN)/python -m deploy.image_check --image $(IMAGE)'

lint: $(STAMP_TEST)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP_TEST)
	$(BIN)/mypy bot bench

# The import contracts in pyproject.toml's [tool.importlinter]: no discord in bot/, storage's
# private modules stay private, and the layers README.md's architecture section draws.
contracts: $(STAMP_TEST)
	$(BIN)/lint-imports

# Every test, in one pytest run. The storage tests and every end-to-end scenario that keeps the
# bot's state run twice, on SQLite and on PostgreSQL (a throwaway cluster from the server
# binaries, see `make postgresql`); without the binaries the PostgreSQL half is skipped and the
# test header says so in one line (PAPERBOY_REQUIRE_POSTGRESQL=1, as .ci/run sets, fails instead).
# PAPERBOY_TEST_ENGINE=sqlite (or postgresql) runs the end-to-end scenarios on one engine only.
unit: $(STAMP_TEST)
	$(BIN)/pytest

# Lint, formatting, types, import contracts, and every test on both engines (see `unit`).
test: lint types contracts unit

bench: $(STAMP_TEST)
	$(BIN)/python -m bench

# Contenders the benchmarks compare against, never dependencies of the bot: lemon24/reader for
# bench.polling (its vendored feedparser needs sgmllib3k, which it does not declare) and
# feedparser-rs for bench.parse_cost.
bench-deps: $(STAMP_TEST)
	$(BIN)/pip install --quiet reader==3.26 sgmllib3k==1.0.0 feedparser-rs==0.7.1

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
