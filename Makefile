# Entry points for a fresh machine; see README.md. Everything installs into .venv and the
# Go-built control plane into ~/.cache/cps1 (CPS1_CACHE to move it).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup system-packages idp controlplane node images run stop test test-faults test-unit lint clean

$(BIN)/cps1: setup.cfg pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/cps1

# sshd and chromium for the gateway and browser tests (Debian packages; installed when root).
system-packages:
	bash scripts/system-packages.sh

# The local OpenID Provider (oidc-provider from npm, `npm ci` into the cache) for the sign-in
# tests and `cps1 dev up`.
idp: setup system-packages
	$(BIN)/python -m cps1.localcluster.idp >/dev/null

controlplane:
	bash cps1/localcluster/build.sh kubernetes etcd kwok metacontroller helm caddy actionlint >/dev/null

# The real node: kubelet, kube-proxy, containerd, runc, CNI plugins, kube-router, our static
# images, CoreDNS for the in-cluster install (runc's cgo build needs system-packages first).
node: system-packages
	bash cps1/localcluster/build.sh kubelet containerd runc cni kube-router static-images coredns >/dev/null

# The node's container images, built here from Debian's packages, PyPI and npm into a
# content-addressed cache (cps1/localcluster/images.py; images/README.md).
images: setup system-packages
	$(BIN)/python -m cps1.localcluster.images >/dev/null

# Set up and run CPS1 on the local control plane (or explain Helm when KUBECONFIG is set).
run: setup idp controlplane node images
	$(BIN)/cps1 dev up

stop:
	$(BIN)/cps1 dev down

# Unit tests and end-to-end tests against the local control plane.
test: setup system-packages idp controlplane node images lint
	$(BIN)/pytest $(PYTEST_ARGS)

# The opt-in fault tier: a storm of changes while components crash, hang and fail.
test-faults: setup system-packages controlplane
	$(BIN)/pytest tests/faults $(PYTEST_ARGS)

test-unit: setup
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .import_linter_cache .grimp_cache
