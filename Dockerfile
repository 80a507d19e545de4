# swarmnet-exporter image.
#
#   docker build -t swarmnet-exporter:latest .
#
# Base images are build arguments, so the image can be built from a mirror or a
# locally made base (no registry): NODE_IMAGE is the runtime base and, unless
# BUILD_IMAGE says otherwise, the build base too. The build stage installs
# python3, make and g++ (for node-gyp) only when the base lacks them.
# NPM_CONFIG_REGISTRY / NPM_CONFIG_CAFILE, when given, reach npm in the build.
#
# The exporter runs as root, on purpose: entering another network namespace
# (setns(CLONE_NEWNET)) needs CAP_SYS_ADMIN, and reading IPVS and some netlink
# dumps needs CAP_NET_ADMIN, both in the initial user namespace. A non-root
# user would need the same capabilities as ambient/file capabilities, which
# swarm services cannot grant. Deploy it with cap_add SYS_ADMIN and NET_ADMIN
# only (deploy/stack.yml), not privileged; the image has no shell or package
# manager beyond what the runtime base brings.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG BUILD_IMAGE=${NODE_IMAGE}

FROM ${BUILD_IMAGE} AS build
ARG NPM_CONFIG_REGISTRY
ARG NPM_CONFIG_CAFILE
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /src
RUN if ! command -v python3 >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1; then \
      apt-get update \
      && apt-get install -y --no-install-recommends python3 make g++ \
      && rm -rf /var/lib/apt/lists/*; \
    fi
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
RUN nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"; \
    if [ -f "$nodedir/include/node/node_api.h" ]; then export npm_config_nodedir="$nodedir"; fi; \
    npm run build \
    && npm prune --omit=dev \
    && test -f dist/main.js -a -f dist/web/healthcheck.js -a -f build/Release/swarmnet_netns.node

FROM ${NODE_IMAGE}
# keep in step with package.json (test/e2e/image.e2e.test.ts checks)
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=
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
ENV NODE_ENV=production SWARMNET_REVISION=${REVISION}
EXPOSE 9477
# root: see the note at the top (setns needs CAP_SYS_ADMIN)
USER 0:0
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "dist/web/healthcheck.js"]
ENTRYPOINT ["node", "dist/main.js"]
