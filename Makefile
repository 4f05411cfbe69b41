# bluegreen-operator — entry points (named as kubebuilder's). `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# Every target runs the project's pinned Node (the `node` devDependency), never the machine's.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
NODE := node_modules/.bin/node
# $KUBECONFIG when set; else the local control plane of `make cluster-up` when it is there; else
# the usual loading (~/.kube/config, in-cluster).
ifeq ($(origin KUBECONFIG),undefined)
ifneq ($(wildcard $(CURDIR)/.cluster/kubeconfig),)
KUBECONFIG := $(CURDIR)/.cluster/kubeconfig
export KUBECONFIG
endif
endif
KUBECTL_DIR := $(shell bash -c 'source hack/versions.sh && echo $$BGO_BIN')
KUBECTL := $(KUBECTL_DIR)/kubectl

.DEFAULT_GOAL := help

##@ General
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development
node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

binaries: ## Build the local control plane from Go modules into the cache (about 7 min cold, instant warm).
	bash hack/build-binaries.sh

manifests: node_modules ## Generate the CRD YAML (deploy/crd and the Helm chart's crds/) from the schema in code.
	$(NODE) hack/generate-manifests.ts
	cp deploy/crd/bluegreen.io_bluegreendeployments.yaml charts/bluegreen-operator/crds/

build: node_modules manifests ## Compile TypeScript to dist/ and put the kubectl plugin at bin/kubectl-bluegreen.
	npx tsc -p tsconfig.build.json
	@mkdir -p bin
	@printf '#!/usr/bin/env bash\nexec "%s" "%s" "$$@"\n' "$(CURDIR)/$(NODE)" "$(CURDIR)/dist/src/cli/main.js" > bin/kubectl-bluegreen
	@chmod +x bin/kubectl-bluegreen

plugin: node_modules ## Bundle the kubectl plugin into one file, dist/kubectl-bluegreen (needs Node >= 24 on PATH).
	@mkdir -p dist
	npx esbuild src/cli/main.ts --bundle --platform=node --format=esm --target=node24 --log-level=warning \
	  --outfile=dist/kubectl-bluegreen \
	  '--banner:js=import { createRequire as __bgoCreateRequire } from "node:module"; const require = __bgoCreateRequire(import.meta.url);'
	@chmod +x dist/kubectl-bluegreen
	@echo "dist/kubectl-bluegreen: copy it onto your PATH; then: kubectl bluegreen --help"

lint: node_modules ## Format check, lint (biome) and type-check (tsc).
	npx biome check .
	npx tsc -p tsconfig.json --noEmit
	$(NODE) hack/generate-manifests.ts --check

debian-packages: ## Install the Debian packages the tests use (openssl, tmux, prometheus) when missing.
	bash hack/debian-packages.sh

test: node_modules binaries debian-packages lint ## Lint, unit tests, then e2e tests on one local control plane.
	$(NODE) --test --test-reporter=spec 'test/unit/**/*.test.ts'
	$(NODE) test/run-e2e.ts

test-unit: node_modules ## Unit and property tests only (no cluster).
	$(NODE) --test --test-reporter=spec 'test/unit/**/*.test.ts'

test-e2e: node_modules binaries ## E2E tests only (starts its own control plane). FILTER=<file substring> to select.
	$(NODE) test/run-e2e.ts $(FILTER)

##@ Local control plane
cluster-up: node_modules binaries ## Start etcd, kube-apiserver, controller-manager, scheduler and kwok in .cluster/.
	$(NODE) test/harness/cluster-cli.ts up

cluster-down: node_modules ## Stop exactly the processes cluster-up started.
	$(NODE) test/harness/cluster-cli.ts down

##@ Operator
install: manifests ## Install the CRD into $KUBECONFIG's cluster.
	$(KUBECTL) apply --server-side --force-conflicts -f deploy/crd/bluegreen.io_bluegreendeployments.yaml
	$(KUBECTL) wait --for=condition=Established --timeout=60s crd/bluegreendeployments.bluegreen.io

uninstall: ## Remove the CRD (and every BlueGreenDeployment) from $KUBECONFIG's cluster.
	$(KUBECTL) delete --ignore-not-found -f deploy/crd/bluegreen.io_bluegreendeployments.yaml

run: node_modules install ## Run the operator in the foreground against $KUBECONFIG.
	$(NODE) src/runtime/main.ts

deploy: manifests ## Apply the operator's manifests (RBAC, Deployment) to $KUBECONFIG's cluster.
	$(KUBECTL) apply --server-side --force-conflicts -f deploy/crd/ -f deploy/operator/namespace.yaml -f deploy/rbac/ -f deploy/operator/

demo: node_modules binaries ## Bring up the local control plane, run the operator and do a real blue→green rollout.
	$(NODE) hack/demo.ts

bench: node_modules binaries ## Benchmarks: promote→switch latency, writes per no-op reconcile; prints a table, writes JSON.
	$(NODE) bench/run.ts

.PHONY: help debian-packages binaries plugin manifests build lint test test-unit test-e2e cluster-up cluster-down install uninstall run deploy demo bench
