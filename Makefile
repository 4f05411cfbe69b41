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

binaries: ## Build the local control plane and the Gateway data plane (Contour, Envoy) into the cache (about 10 min cold, instant warm).
	bash hack/build-binaries.sh

manifests: node_modules ## Generate the CRD YAML (deploy/crd and the Helm chart's crds/) from the schema in code.
	$(NODE) hack/generate-manifests.ts
	cp deploy/crd/bluegreen.io_bluegreendeployments.yaml charts/bluegreen-operator/crds/

build: node_modules manifests ## Compile TypeScript to dist/ (the operator's entrypoint bundled into one file; the dashboard page to dist/ui/); the kubectl plugin at bin/kubectl-bluegreen.
	npx tsc -p tsconfig.build.json
	$(NODE) hack/bundle-operator.ts
	$(NODE) hack/build-ui.ts
	@mkdir -p bin
	@printf '#!/usr/bin/env bash\nexec "%s" "%s" "$$@"\n' "$(CURDIR)/$(NODE)" "$(CURDIR)/dist/src/cli/main.js" > bin/kubectl-bluegreen
	@chmod +x bin/kubectl-bluegreen

# Where the project is published: the krew manifest's homepage and release downloads.
PROJECT_URL ?= https://github.com/bluegreen-operator/bluegreen-operator

plugin: node_modules ## Bundle the kubectl plugin (dashboard page included) into dist/kubectl-bluegreen, its krew archive and manifest (dist/krew/).
	@mkdir -p dist
	$(NODE) hack/build-ui.ts --plugin
	@PROJECT_URL=$(PROJECT_URL) $(NODE) hack/krew-manifest.ts
	@echo "dist/kubectl-bluegreen: copy it onto your PATH; then: kubectl bluegreen --help"

image: node_modules debian-packages ## Build the operator image as an OCI archive in dist/image/ (no container engine; `podman load -i`).
	bash hack/build-image.sh dist/image

lint: node_modules ## Format check, lint (biome) and type-check (tsc).
	npx biome check .
	npx tsc -p tsconfig.json --noEmit
	npx tsc -p src/ui/client/tsconfig.json --noEmit
	$(NODE) hack/generate-manifests.ts --check

debian-packages: ## Install the Debian packages the tests use (hack/debian-packages.sh lists them) when missing.
	bash hack/debian-packages.sh

test: node_modules debian-packages binaries lint ## Lint, unit tests, then e2e tests on one local control plane.
	$(NODE) --test --test-reporter=spec 'test/unit/**/*.test.ts'
	$(NODE) test/run-e2e.ts

test-unit: node_modules ## Unit and property tests only (no cluster).
	$(NODE) --test --test-reporter=spec 'test/unit/**/*.test.ts'

test-e2e: node_modules debian-packages binaries ## E2E tests only (starts its own control plane). FILTER=<file substring> to select.
	$(NODE) test/run-e2e.ts $(FILTER)

##@ Local control plane
cluster-up: node_modules debian-packages binaries ## Start the control plane, kwok, and kube-proxy + podsim in a private network namespace (.cluster/netns-exec).
	$(NODE) test/harness/cluster-cli.ts up

cluster-down: node_modules ## Stop exactly the processes cluster-up started.
	$(NODE) test/harness/cluster-cli.ts down

##@ Operator
install: manifests ## Install the CRD into $KUBECONFIG's cluster.
	$(KUBECTL) apply --server-side --force-conflicts -f deploy/crd/bluegreen.io_bluegreendeployments.yaml
	$(KUBECTL) wait --for=condition=Established --timeout=60s crd/bluegreendeployments.bluegreen.io

uninstall: ## Remove the CRD (and every BlueGreenDeployment) from $KUBECONFIG's cluster.
	$(KUBECTL) delete --ignore-not-found -f deploy/crd/bluegreen.io_bluegreendeployments.yaml

# Against the local control plane the operator runs inside its network namespace, where ClusterIPs answer.
ifeq ($(KUBECONFIG),$(CURDIR)/.cluster/kubeconfig)
RUN_PREFIX := $(if $(wildcard $(CURDIR)/.cluster/netns-exec),$(CURDIR)/.cluster/netns-exec )
endif
run: node_modules install ## Run the operator in the foreground against $KUBECONFIG (local cluster: in its network namespace).
	$(RUN_PREFIX)$(NODE) src/runtime/main.ts

deploy: manifests ## Apply the operator's manifests (RBAC, Deployment) to $KUBECONFIG's cluster.
	$(KUBECTL) apply --server-side --force-conflicts -f deploy/crd/ -f deploy/operator/namespace.yaml -f deploy/rbac/ -f deploy/operator/

demo: node_modules debian-packages binaries ## Bring up the local control plane, run the operator and do a real blue→green rollout.
	$(NODE) hack/demo.ts

demo-gates: node_modules debian-packages binaries ## Like demo, with real traffic and Prometheus: a good release promotes, a bad one (30 % errors) is stopped by an error-rate gate.
	$(NODE) hack/demo-gates.ts

demo-canary: node_modules debian-packages binaries ## The same through a real Gateway (Contour + Envoy): canary steps 10 % → 50 % → switch, the share of requests per revision shown live.
	$(NODE) hack/demo-canary.ts

soak: node_modules debian-packages binaries ## kill -9 of the operator at every phase of KILLS releases (default 20) under load.
	BGO_KILLS_PER_PHASE=$${KILLS:-20} $(NODE) test/run-e2e.ts traffic-kill

bench: node_modules debian-packages binaries ## Benchmarks: promote→switch latency (server-side and as traffic sees it), writes per no-op reconcile. SIZE=N: N BGDs at scale (convergence, restart writes, memory). Prints a table, writes JSON.
	$(if $(SIZE),BENCH_SIZE=$(SIZE) $(NODE) bench/scale.ts,$(NODE) bench/run.ts)

bench-cache: node_modules ## What one BGD costs in the informer caches, per kind (V8 heap of N copies of real API objects, as returned and as kept). No cluster.
	$(NODE) --expose-gc bench/cache-cost.ts $(N)

argo-rollouts: ## Build the anchor of bench-compare, Argo Rollouts v1.10.2 (controller and kubectl plugin), from its Go module into its own cache (about 4 min cold).
	bash hack/build-argo-rollouts.sh

bench-compare: node_modules debian-packages binaries argo-rollouts build ## Side by side with Argo Rollouts on one fresh control plane: SIZE=N applications (default 200) to all stable, restart writes, RSS, back-to-back release latency (RELEASES=n, default 10), promote→switch. Table + JSON.
	BENCH_SIZE=$(or $(SIZE),200) BENCH_RELEASES=$(or $(RELEASES),10) BGO_ENTRY=$${BGO_ENTRY:-dist/src/runtime/main.js} $(NODE) bench/compare.ts

.PHONY: help debian-packages binaries plugin image manifests build lint test test-unit test-e2e cluster-up cluster-down install uninstall run deploy demo demo-gates demo-canary bench bench-cache soak argo-rollouts bench-compare
