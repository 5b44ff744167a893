# syntax=docker/dockerfile:1
# Image for the NAS service (`nas serve`: REST API, live progress, dashboard,
# in-process job queue) and the CLI (`nas ...`).
#
#   docker build -t mobile-nas .
#   docker run --rm -p 8080:8080 -v nas-data:/data mobile-nas         # the service; prints the admin key on first start
#   docker run --rm -v nas-data:/data mobile-nas train-export --dataset fashion-mnist --latency-target-ms 5 --out /data/out/train-export
#   docker run --rm mobile-nas arch show mnasnet-a1                   # any other `nas` command
#
# Build arguments:
#   TFJS_NODE  cpu (default): also install @tensorflow/tfjs-node (downloads
#              libtensorflow at build time; the engine prefers it when it loads);
#              gpu: @tensorflow/tfjs-node-gpu instead (needs a BASE_IMAGE with
#              Node 20 plus the CUDA 11.2 / cuDNN 8.1 libraries libtensorflow
#              2.9 links against, and `docker run --gpus all`);
#              none: neither (the fast CPU path: WASM + native oneDNN kernels).
#   NAS_NATIVE_MARCH  -march for the native kernels (default x86-64-v3: AVX2/FMA
#              CPUs, 2013 on; "native" ties the image to the build machine's CPU).
#
# Written with care but never built on the machine it was written on (no
# docker engine there); the steps mirror scripts/setup.sh, which CI runs.

ARG BASE_IMAGE=node:20-bookworm-slim

FROM ${BASE_IMAGE} AS build
ARG TFJS_NODE=cpu
ARG NAS_NATIVE_MARCH=x86-64-v3
ENV NAS_NATIVE_MARCH=${NAS_NATIVE_MARCH}
# g++ + libdnnl-dev: the native kernels; python3/make: node-gyp fallbacks of optional packages.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates g++ libdnnl-dev make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY native ./native
# Install without running install scripts, then run just the ones this image
# needs: the native kernels (strict: the image must have them), sharp, and the
# chosen tfjs-node flavour; the other flavour is removed.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild sharp \
 && node native/build.mjs --strict \
 && case "$TFJS_NODE" in \
      cpu)  npm rebuild @tensorflow/tfjs-node && rm -rf node_modules/@tensorflow/tfjs-node-gpu ;; \
      gpu)  npm rebuild @tensorflow/tfjs-node-gpu && rm -rf node_modules/@tensorflow/tfjs-node ;; \
      none) rm -rf node_modules/@tensorflow/tfjs-node node_modules/@tensorflow/tfjs-node-gpu ;; \
      *)    echo "TFJS_NODE must be cpu, gpu or none (got $TFJS_NODE)" >&2; exit 2 ;; \
    esac
# Compile the TypeScript sources to dist/ (the image runs JavaScript: no
# loader, no compiler), then drop the build-only packages (typescript, tsx).
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${BASE_IMAGE}
# Runtime libraries of the native kernels: oneDNN and OpenMP.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libdnnl2 libgomp1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    NAS_DATASET_CACHE=/data/datasets
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/native/build ./native/build
COPY --from=build /app/dist ./dist
# package.json: "type": "module" makes dist/'s .js files ES modules
COPY package.json ./
# bin/nas.js runs dist/ (the image has no TypeScript sources)
COPY bin ./bin
# Profiling a device (`nas profile`) writes these two folders: owned by the
# run-time user; mount volumes over them to keep new tables.
COPY --chown=node:node device-profiles ./device-profiles
COPY --chown=node:node latency-tables ./latency-tables
COPY web ./web
# The HTTP contract: request validation reads it at run time.
COPY api ./api
RUN mkdir -p /data && chown node:node /data
# Runs as the unprivileged `node` user of the base image (uid 1000).
USER node
ENV NAS_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# The service answers /healthz (store reachable, schema version) without a key.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/nas.js"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
