# syntax=docker/dockerfile:1.7
# The API image (apps/api), also used for the controller and the migration Job: Node 20 on Debian
# slim, no tfjs. Build from the repository root:
#   docker build -f docker/api.Dockerfile -t cim-forge/api .
# Commands (the image's default is the API):
#   api         node --import tsx apps/api/src/main.ts
#   controller  node --import tsx apps/worker/src/controller-main.ts
#   migrations  node --import tsx libs/db/src/migrate.ts
ARG NODE_IMAGE=node:20-bookworm-slim

# ── build: dependencies, the generated Prisma client, sources ─────────────────────────────────
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# npm 11, as on the development machines (it skips @prisma/engines' download; see libs/db/scripts/generate.mjs)
RUN npm install -g npm@11 --no-audit --no-fund
# the manifests and what postinstall needs first, so this layer is cached until they change
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY libs/db/scripts ./libs/db/scripts
COPY scripts/native-backend.mjs scripts/portal-build.mjs ./scripts/
# postinstall's native-backend set-up is for development machines; the API never loads tfjs
ENV CIM_NATIVE=skip
RUN npm ci --no-audit --no-fund
COPY . .
# the portal (apps/portal/dist), served by the API at /
RUN npm run portal:build
# The API never loads tfjs (lint's type:api rule; docs/architecture.md). Deleting it keeps ~300 MB
# out of the image and turns an accidental import into a failure at start, not a silent bloat.
RUN rm -rf node_modules/@tensorflow
# Dev dependencies go once tsx, the runtime loader of every entrypoint, is a runtime dependency.
RUN if node -e "process.exit(require('./package.json').dependencies?.tsx ? 0 : 1)"; then \
      npm prune --omit=dev --no-audit --no-fund && rm -rf node_modules/@tensorflow; \
    fi \
 && rm -rf .git apps/cli docs scratch runs /root/.npm

# ── runtime ──────────────────────────────────────────────────────────────────────────────────
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    LOG_LEVEL=info
WORKDIR /app
COPY --from=build --chown=1000:1000 /app /app
# numeric, so Kubernetes' runAsNonRoot can verify it (the base image's `node` user is uid 1000)
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
