//go:build tools

// Package tools pins Contour, the Gateway API controller whose Envoy data plane the traffic tests send
// requests through (HTTPRoute weights, an Ingress-style route to the active Service).
package tools

import _ "github.com/projectcontour/contour/cmd/contour"
