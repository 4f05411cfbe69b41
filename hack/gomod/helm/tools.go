//go:build tools

// Package tools pins helm, used to render charts/bluegreen-operator for the e2e dry-run test.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
