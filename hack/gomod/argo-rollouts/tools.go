//go:build tools

// Package tools pins Argo Rollouts, the anchor `make bench-compare` measures the operator against: its
// controller and its kubectl plugin (manual promotion), built from this module by hack/build-argo-rollouts.sh.
package tools

import (
	_ "github.com/argoproj/argo-rollouts/cmd/kubectl-argo-rollouts"
	_ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
)
