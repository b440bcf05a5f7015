# binder.ingress — the two README commands (`make demo`, `make test`) and their parts.
# Works on a fresh Debian machine with only PyPI and Debian packages reachable.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PY := $(BIN)/python
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Debian packages the tests need (debootstrap builds the k3s_member test root).
DEB_PACKAGES := debootstrap

.PHONY: venv deb test unit lint demo bench render clean sanity

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

lint: venv
	$(BIN)/yamllint --strict .
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/ansible-lint --profile production
	$(BIN)/antsibull-changelog lint
	$(MAKE) sanity

# ansible-test needs the collection under ansible_collections/<ns>/<name>: copy the tracked files there.
sanity: venv
	@rm -rf .tmp/sanity && mkdir -p .tmp/sanity/ansible_collections/binder/ingress
	@git ls-files -co --exclude-standard -z | grep -zv '^collections/' | xargs -0 cp --parents -t .tmp/sanity/ansible_collections/binder/ingress
	cd .tmp/sanity/ansible_collections/binder/ingress && $(BIN)/ansible-test sanity --python 3.11 --color no --skip-test pylint

unit: venv
	$(PY) -m pytest tests/unit

test: venv deb lint
	$(PY) -m pytest

render: venv
	$(BIN)/ansible-playbook playbooks/render.yml -i inventories/prod -e render_dir=$(CURDIR)/out/prod

demo: venv
	$(PY) -m sandbox.demo

bench: venv
	$(PY) -m bench

clean:
	rm -rf .tmp out
