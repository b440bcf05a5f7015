# binder.ingress — the two README commands (`make demo`, `make test`) and their parts.
# Works on a fresh Debian machine that reaches only PyPI, Debian and the Go module proxy.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Debian packages the tests need (debootstrap builds the k3s_member test root).
DEB_PACKAGES := debootstrap

.PHONY: venv deb engines test unit lint demo bench render clean sanity inputs

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python3 >= 3.11 is required, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

deb:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# The local cluster's engines (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kwok, helm, pebble), built from the Go modules pinned in engines/*/go.mod with the machine's Go into
# ~/.cache/binder-ingress/engines (BINDER_ENGINES_CACHE), keyed by those pins: cold, about
# 14 minutes on 2 cores; cached, under a second. Progress is printed while it builds.
engines:
	@$(PYTHON) -m sandbox.engines
# Every command that starts the local cluster or drives Helm finds the engines on PATH.
WITH_ENGINES = PATH="$$($(PYTHON) -m sandbox.engines --print-bin-dir):$$PATH"

lint: venv
	$(BIN)/yamllint --strict .
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint
	$(MAKE) sanity

# ansible-test sanity checks the collection as shipped: build it (galaxy.yml's build_ignore
# leaves out the sandbox, benchmarks and the harness tests, which ruff and mypy cover) and
# unpack it under ansible_collections/<ns>/<name>, outside any git work tree, next to
# kubernetes.core (from the pinned `ansible` package) for its doc fragments and module_utils.
SANITY_ROOT ?= $(or $(TMPDIR),/tmp)/binder-ingress-sanity-$(shell printf %s "$(CURDIR)" | md5sum | cut -c1-8)
sanity: venv
	@rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)/build $(SANITY_ROOT)/ansible_collections/binder/ingress $(SANITY_ROOT)/ansible_collections/kubernetes
	@$(BIN)/ansible-galaxy collection build --force --output-path $(SANITY_ROOT)/build . >/dev/null
	@tar -xzf $(SANITY_ROOT)/build/binder-ingress-*.tar.gz -C $(SANITY_ROOT)/ansible_collections/binder/ingress
	@cp -r $$($(PY) -c 'import ansible_collections.kubernetes.core as c; print(list(c.__path__)[0])') $(SANITY_ROOT)/ansible_collections/kubernetes/core
	@mkdir -p $(HOME)/.ansible/test/cache
	@cp tests/sanity/get_pip_offline.py $(HOME)/.ansible/test/cache/get_pip_24_2.py
	cd $(SANITY_ROOT)/ansible_collections/binder/ingress && $(BIN)/ansible-test sanity --venv --python 3.11 --color no

# Every role's defaults/main.yml and meta/argument_specs.yml from the one input table
# (plugins/module_utils/inputs.py), then the READMEs' variable tables from the argument specs.
inputs: venv
	$(PY) -m tools.inputs
	$(PY) -m tools.role_docs

unit: venv
	$(PY) -m pytest tests/unit

test: venv deb engines lint
	$(WITH_ENGINES) $(PY) -m pytest

render: venv
	$(BIN)/ansible-playbook playbooks/render.yml -i inventories/prod -e render_dir=$(CURDIR)/out/prod

demo: venv engines
	$(WITH_ENGINES) $(PY) -m sandbox.demo

# Figures into bench/results/<date>.md and the plot <date>.png beside it (not committed);
# `make bench BENCH_ARGS=--quick` tries it out at small sizes, BENCH_ARGS=scale runs one benchmark.
bench: venv engines
	$(WITH_ENGINES) $(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf .tmp out
