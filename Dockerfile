# syntax=docker/dockerfile:1
# The operator image: TypeScript compiled in a build stage, production dependencies only, run as a
# non-root user on a read-only root filesystem (nothing is written outside /tmp).
#   docker build -t bluegreen-operator:0.1.0 .
# Without a container engine or registry, `make image` (hack/build-image.sh) assembles the same layout
# (/app/dist, /app/node_modules, /app/package.json, user 65532, this entrypoint) on a Debian base made
# locally with mmdebstrap; test/e2e/image.test.ts builds and runs that image.
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. Compile src/ to dist/ (devDependencies: TypeScript and the type definitions).
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the pinned `node` devDependency would fetch a second Node binary; the image has one.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY hack/build-ui.ts hack/bundle-operator.ts ./hack/
# The entrypoint bundled into one file: only what the operator reaches is loaded (hack/bundle-operator.ts).
RUN npx tsc -p tsconfig.build.json && node hack/bundle-operator.ts && node hack/build-ui.ts

# 2. Production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# 3. The runtime: node, the compiled operator, its production dependencies. No npm at run time.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# 65532: the conventional "nonroot" uid, matching runAsUser in deploy/operator/deployment.yaml.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/src/runtime/main.js"]
