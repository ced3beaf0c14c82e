# syntax=docker/dockerfile:1.7
# The worker image (apps/worker): one process per GPU, training with @tensorflow/tfjs-node-gpu.
# Build from the repository root:
#   docker build -f docker/worker.Dockerfile -t cim-forge/worker .               # GPU (default)
#   docker build -f docker/worker.Dockerfile --target cpu -t cim-forge/worker:cpu .  # CPU nodes, laptops
#   docker build -f docker/worker.Dockerfile --target webgpu -t cim-forge/worker:webgpu .  # WebGPU
#
# CUDA: tfjs-node-gpu 4.x links libtensorflow 2.9.1, built for CUDA 11.2 and cuDNN 8.1
# (libcudart.so.11.0, libcudnn.so.8); a CUDA 12 base image does not have those libraries. Any
# CUDA 11.x runtime satisfies them (minor-version compatibility); the node needs driver ≥ 450.80.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
ARG TFJS_NODE_GPU_VERSION=4.22.0

FROM ${NODE_IMAGE} AS node

# ── build: dependencies, the generated Prisma client, sources (no native tfjs) ──────────────────
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN npm install -g npm@11 --no-audit --no-fund
COPY package.json package-lock.json ./
COPY prisma ./prisma
COPY libs/db/scripts ./libs/db/scripts
COPY scripts/native-backend.mjs scripts/portal-build.mjs ./scripts/
# postinstall's native-backend set-up is for development machines (libtensorflow 1.15 CPU from the
# npm registry); images take the official tfjs-node(-gpu) builds instead
ENV CIM_NATIVE=skip
RUN npm ci --no-audit --no-fund
COPY . .
RUN rm -rf .git docs scratch runs /root/.npm

# ── cpu-build: @tensorflow/tfjs-node the official way: its install script downloads libtensorflow
#    (CPU) and the prebuilt binding for this glibc ───────────────────────────────────────────
FROM build AS cpu-build
RUN cd node_modules/@tensorflow/tfjs-node && node scripts/install.js \
 && cd /app && node -e "require('@tensorflow/tfjs-node'); const tf = require('@tensorflow/tfjs'); if (tf.getBackend() !== 'tensorflow') process.exit(1)"

# ── cpu: the CPU worker (docker/compose.yaml, CPU node pools), native tensorflow backend ────────
FROM ${NODE_IMAGE} AS cpu
ENV NODE_ENV=production \
    CIM_BACKEND=tensorflow \
    METRICS_PORT=9464 \
    LOG_LEVEL=info
WORKDIR /app
COPY --from=cpu-build --chown=1000:1000 /app /app
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--import", "tsx", "apps/worker/src/worker-main.ts"]

# ── webgpu: the cluster worker on WebGPU (tfjs-backend-webgpu on Dawn, the `webgpu` npm package,
# over the driver's Vulkan): any vendor's GPU, no CUDA or cuDNN in the image. Dawn's prebuilt
# dawn.node needs glibc >= 2.34 (bookworm has 2.36) and loads libvulkan.so.1 (libvulkan1) plus the
# driver's Vulkan ICD, which the NVIDIA container toolkit mounts only when the capabilities include
# `graphics` (the chart sets them again on the pod). Not built here (no Docker on our machines).
FROM ${NODE_IMAGE} AS webgpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvulkan1 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    CIM_BACKEND=webgpu \
    CIM_WEBGPU_ADAPTER=gpu \
    METRICS_PORT=9464 \
    LOG_LEVEL=info \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
WORKDIR /app
COPY --from=build --chown=1000:1000 /app /app
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--import", "tsx", "apps/worker/src/worker-main.ts"]

# ── gpu-build: tfjs-node-gpu on the CUDA base, so its native addon meets the runtime's glibc ────
FROM ${CUDA_IMAGE} AS gpu-build
ARG TFJS_NODE_GPU_VERSION
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && npm install -g npm@11 --no-audit --no-fund
WORKDIR /app
COPY --from=build /app /app
# The install step downloads libtensorflow (GPU) and the prebuilt addon; --foreground-scripts
# runs it in the open so a failed download shows in the build log. --no-save: package.json keeps
# it optional, as on CPU development machines.
RUN npm install --no-save --no-audit --no-fund --foreground-scripts \
      "@tensorflow/tfjs-node-gpu@${TFJS_NODE_GPU_VERSION}" \
 && node -e "require('@tensorflow/tfjs-node-gpu/package.json')" \
 && rm -rf /root/.npm

# ── gpu (default): the cluster worker ─────────────────────────────────────────────────────────
FROM ${CUDA_IMAGE} AS gpu
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    CIM_BACKEND=tensorflow \
    METRICS_PORT=9464 \
    LOG_LEVEL=info \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY --from=gpu-build --chown=1000:1000 /app /app
# the CUDA images have no uid 1000; numeric so Kubernetes' runAsNonRoot can verify it
USER 1000:1000
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM goes straight to node (no shell): the worker checkpoints and exits within the pod's
# terminationGracePeriodSeconds
CMD ["node", "--import", "tsx", "apps/worker/src/worker-main.ts"]
