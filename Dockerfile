# swarmnet-exporter image.
#
#   docker build -t swarmnet-exporter:latest .
#
# Runtime base: distroless Node.js 26 (gcr.io/distroless/nodejs26-debian13):
# Node.js 26 is the Active LTS line on 2026-11-29 (Active LTS since
# 2026-10-28, end of life 2029-04-30; 24 is in maintenance since 2026-10-20,
# 20 reached its end of life on 2026-04-30). Distroless: node, glibc, CA
# certificates and tzdata; no shell, no package manager, no coreutils. The
# build stage is the Debian 13 (trixie) Node.js 26 image, so the native addon
# links the glibc the runtime has.
#
# Base images are build arguments, so the image can be built from a mirror or a
# locally made base (no registry): NODE_IMAGE is the runtime base, BUILD_IMAGE
# the build base. The runtime base must have node at /nodejs/bin/node (as
# distroless has it); the build base needs sh and npm, and gets python3, make
# and g++ (node-gyp, the health check) from apt when it lacks them.
# NPM_CONFIG_REGISTRY / NPM_CONFIG_CAFILE, when given, reach npm in the build.
#
# The exporter runs as root, on purpose: entering another network namespace
# (setns(CLONE_NEWNET)) needs CAP_SYS_ADMIN, and reading IPVS and some netlink
# dumps needs CAP_NET_ADMIN, both in the initial user namespace. A non-root
# user would need the same capabilities as ambient/file capabilities, which
# swarm services cannot grant. Deploy it with cap_drop ALL and cap_add
# SYS_ADMIN and NET_ADMIN, on a read-only root file system (deploy/stack.yml);
# it writes no file.
#
# Health check: /app/healthcheck, a static C binary (deploy/image/healthcheck.c,
# ~0.8 MB) that asks /healthz on the exporter's own port: ~0.7 MB RSS and under
# 1 ms of CPU per check, where `node dist/web/healthcheck.js` starts a second
# Node.js runtime (~46 MB RSS, ~70 ms of CPU) every interval.
ARG NODE_IMAGE=gcr.io/distroless/nodejs26-debian13
ARG BUILD_IMAGE=node:26-trixie-slim

FROM ${BUILD_IMAGE} AS build
ARG NPM_CONFIG_REGISTRY
ARG NPM_CONFIG_CAFILE
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /src
RUN if ! command -v python3 >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then \
      apt-get update \
      && apt-get install -y --no-install-recommends python3 make g++ libc6-dev \
      && rm -rf /var/lib/apt/lists/*; \
    fi
# the health check: static, stripped, no dependency on the runtime's libraries
COPY deploy/image/healthcheck.c ./healthcheck.c
RUN gcc -Os -static -s -Wall -o healthcheck healthcheck.c && ./healthcheck 127.0.0.1:1 2>/dev/null; test -x healthcheck
# dependencies first, for layer caching (no install scripts: the native addon
# is built below once its sources are in)
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY binding.gyp ./
COPY native ./native
# node-gyp uses the base's own Node headers when it has them (it would download
# them otherwise): npm_config_nodedir is set from where node lives
RUN nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"; \
    if [ -f "$nodedir/include/node/node_api.h" ]; then export npm_config_nodedir="$nodedir"; fi; \
    npx --no-install node-gyp rebuild \
    && test -f build/Release/swarmnet_netns.node
COPY tsconfig.json ./
COPY src ./src
# production dependencies only, without what only a build or an editor reads
# (type declarations, source maps, documents, tests, examples, C sources):
# ~22 MB of node_modules become ~6 MB
RUN nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"; \
    if [ -f "$nodedir/include/node/node_api.h" ]; then export npm_config_nodedir="$nodedir"; fi; \
    npm run build:ts \
    && npm prune --omit=dev \
    && cd node_modules \
    && find . -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' \
         -o -name '*.markdown' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '.npmignore' -o -name '.eslintrc*' \
         -o -name '.prettierrc*' -o -name '.editorconfig' -o -name 'tsconfig*.json' -o -name '*.tsbuildinfo' -o -name '.taprc' \
         -o -name 'Makefile' -o -name '*.gyp' -o -name '*.gypi' -o -name '*.c' -o -name '*.cc' -o -name '*.h' \) -delete \
    && find . -depth -type d \( -name test -o -name tests -o -name __tests__ -o -name example -o -name examples \
         -o -name benchmark -o -name benchmarks -o -name .github -o -name coverage -o -name docs \) -exec rm -rf {} + \
    && rm -rf @types \
    && find . -depth -type d -empty -delete \
    && cd .. \
    && node -e "import('./dist/app.js').then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })" \
    && test -f dist/main.js -a -f build/Release/swarmnet_netns.node

FROM ${NODE_IMAGE}
# keep in step with package.json (test/e2e/image.e2e.test.ts checks)
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=
ARG NODE_IMAGE
LABEL org.opencontainers.image.title="swarmnet-exporter" \
      org.opencontainers.image.description="Prometheus exporter for the Docker Swarm overlay data plane: interfaces, bridge and VXLAN FDB, overlay peers and IPVS load balancers of every network namespace Docker made" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/build/Release/swarmnet_netns.node ./build/Release/swarmnet_netns.node
COPY --from=build /src/healthcheck ./healthcheck
ENV NODE_ENV=production SWARMNET_REVISION=${REVISION}
EXPOSE 9477
# root: see the note at the top (setns needs CAP_SYS_ADMIN)
USER 0:0
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/app/healthcheck"]
# Two V8 heap settings (BENCHMARKS.md): a 2 MB young generation and an old
# generation allowed to grow 20% past what the last full collection kept, so a
# scrape's garbage is collected sooner; both soft (a larger node's heap still
# grows as far as it needs). Keep in step with package.json's start script.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "--heap-growing-percent=20", "dist/main.js"]
