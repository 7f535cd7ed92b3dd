# The two commands of the README: `make synth` and `make test`. Both set up what they need.
VENV ?= .venv
PY := $(VENV)/bin/python
DEPS := $(shell sha256sum pyproject.toml | cut -c1-12)
# make synth installs only what synthesis needs; make test adds the test tools (the dev extra).
SYNTH_STAMP := $(VENV)/.installed-synth-$(DEPS)
DEV_STAMP := $(VENV)/.installed-dev-$(DEPS)

# jsii prints a Node 20 end-of-life banner on every run; the CLI and Terraform phone home.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1

NPM_STAMP := node_modules/.installed-$(shell sha256sum package-lock.json | cut -c1-12)
# mermaid-cli renders the diagram's views (tests and `make diagram-images`) with the system's
# chromium: puppeteer must not download a browser of its own.
RENDER_DIR := scripts/render
RENDER_STAMP := $(RENDER_DIR)/node_modules/.installed-$(shell sha256sum $(RENDER_DIR)/package-lock.json | cut -c1-12)
# checkov pins dependencies that clash with the project's, so it gets a virtualenv of its own.
CHECKOV_VERSION := 3.3.30
CHECKOV_STAMP := .venv-checkov/.installed-$(CHECKOV_VERSION)

# Debian packages the end-to-end tests run, as command:package (command,command: either one).
# BusyBox (the Vault image's wget and sh, and every rehearsal image's tools), redis-server and
# rabbitmq-server (load the synthesized configuration; the rehearsal's Redis and RabbitMQ
# images), Docker Engine (the rehearsal's real swarm, tests/e2e/test_swarm.py), HAProxy (its
# socket proxy image), chromium (mermaid-cli's browser, tests/e2e/test_diagram_render.py),
# envsubst (the worker's cloud-init) and restic (the volume backups' script and the rehearsal's
# backup image, tests/e2e/test_backup_script.py), and the OpenSSH client (the deploy tunnel test).
SYSTEM_TOOLS := busybox:busybox redis-server:redis-server rabbitmq-server:rabbitmq-server \
  dockerd:docker.io haproxy:haproxy chromium,google-chrome:chromium envsubst:gettext-base \
  restic:restic ssh:openssh-client
# Installed without recommends (wireguard-tools recommends a kernel image): wg, wg-quick and
# the userspace wireguard-go (tests/e2e/test_deploy_tunnel.py).
TUNNEL_TOOLS := wg:wireguard-tools wireguard-go:wireguard-go ip:iproute2
# Debian's cloud-init, unpacked but not installed (installed, it would run at the next boot):
# its schema checks the nodes' cloud-init files (tests/e2e/test_cloud_init.py).
CLOUD_INIT_STAMP := .build/cloud-init/.unpacked
# Debian's OpenSSH server, likewise unpacked and not installed, behind the deploy tunnel in
# tests/e2e/test_deploy_tunnel.py; with the privilege-separation user its package would make.
OPENSSH_STAMP := .build/openssh-server/.unpacked

.PHONY: help synth cli test bench diagram diagram-images refresh synth-diff format clean system-tools

$(VENV)/bin/pip:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip

$(SYNTH_STAMP): pyproject.toml | $(VENV)/bin/pip
	@echo "installing what synthesis needs into $(VENV) (first run only)"
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e .
	rm -f $(VENV)/.installed-synth-* && touch $@

$(DEV_STAMP): pyproject.toml $(SYNTH_STAMP)
	@echo "installing the test tools into $(VENV) (first run only)"
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-dev-* && touch $@

# The cdktf CLI (npm run cdktf -- synth|diff|deploy); the tests check it synthesizes what make synth does.
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	rm -f node_modules/.installed-* && touch $@

$(RENDER_STAMP): $(RENDER_DIR)/package.json $(RENDER_DIR)/package-lock.json
	@echo "installing mermaid-cli into $(RENDER_DIR)/node_modules (first run only)"
	cd $(RENDER_DIR) && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --silent
	rm -f $(RENDER_DIR)/node_modules/.installed-* && touch $@

$(CHECKOV_STAMP):
	python3 -m venv .venv-checkov
	.venv-checkov/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	rm -f .venv-checkov/.installed-* && touch $@

# $(call unpack-deb,<package>): the Debian package's files in .build/<package>, not installed.
define unpack-deb
	@echo "unpacking Debian's $(1) into .build/$(1) (first run only)"
	mkdir -p .build/$(1) && cd .build && rm -f $(1)_*.deb && \
	  { apt-get download $(1) 2>/dev/null || \
	    { apt-get update -qq && apt-get download $(1); }; } && \
	  dpkg-deb -x $(1)_*.deb $(1) && rm -f $(1)_*.deb
endef

$(CLOUD_INIT_STAMP):
	$(call unpack-deb,cloud-init)
	touch $@

$(OPENSSH_STAMP):
	$(call unpack-deb,openssh-server)
	getent passwd sshd >/dev/null || useradd --system --no-create-home --home-dir /run/sshd \
	  --shell /usr/sbin/nologin sshd
	touch $@

system-tools:
	@missing=""; for pair in $(TUNNEL_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages, without recommends)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $$missing >/dev/null; } || { \
	    echo "could not install$$missing: install them and rerun" >&2; exit 1; }; \
	fi
	@missing=""; for pair in $(SYSTEM_TOOLS); do found=""; \
	  for tool in $$(echo "$${pair%%:*}" | tr ',' ' '); do \
	    command -v $$tool >/dev/null 2>&1 && found=1; done; \
	  [ -n "$$found" ] || missing="$$missing $${pair#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || { \
	    echo "could not install$$missing: install them (apt-get install$$missing) and rerun" >&2; \
	    exit 1; }; \
	fi

## List the targets with what each does.
help:
	@awk '/^## /{text=substr($$0,4); next} /^[a-z-]+:/{if(text){split($$0,t,":"); printf "  make %-12s %s\n", t[1], text}; text=""}' $(MAKEFILE_LIST)

## Synthesize every stack into cdktf.out/stacks/<stack>/cdk.tf.json (no credentials needed).
synth: $(SYNTH_STAMP)
	@$(PY) scripts/jsii_cache.py
	$(PY) scripts/synth.py

## Install the cdktf CLI (node_modules) that `npm run cdktf -- deploy` runs.
cli: $(NPM_STAMP)

# jsii's package cache is checked, then filled by one process, so the two pytest workers only
# read it (scripts/jsii_cache.py says why).
## Run the whole test suite, lint included.
test: $(DEV_STAMP) $(NPM_STAMP) $(RENDER_STAMP) $(CHECKOV_STAMP) $(CLOUD_INIT_STAMP) $(OPENSSH_STAMP) \
  system-tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/jsii_cache.py --warm
	$(PY) -m pytest -n 2 --dist loadfile

## Synthesis benchmark against the import floor (docs/performance.md); includes a make test.
bench: $(DEV_STAMP) $(NPM_STAMP) $(CHECKOV_STAMP)
	$(PY) scripts/bench.py

## Redraw docs/architecture.md from the synthesized stacks.
diagram: synth
	$(PY) scripts/diagram.py

## Render the diagram's views to .build/diagram/*.svg and *.png (mermaid-cli, chromium).
diagram-images: synth $(RENDER_STAMP) system-tools
	$(PY) scripts/diagram.py --render .build/diagram

## Regenerate the snapshots and the diagram after adding an environment or a service.
refresh: $(DEV_STAMP)
	$(PY) scripts/synth.py
	$(PY) -m pytest -q -p no:randomly tests/test_snapshots.py --snapshot-update
	$(PY) scripts/diagram.py

## Resource-level diff of the synthesized stacks: BASE (default main) vs. the working tree.
synth-diff: $(SYNTH_STAMP)
	$(PY) scripts/synth_diff.py --base $(or $(BASE),main)

## Fix lint and formatting in place (ruff).
format: $(DEV_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Remove synthesized output and caches.
clean:
	rm -rf cdktf.out cdktf.out.* .cdktf.out .build .pytest_cache .ruff_cache
