# tapwire image: `tapwire sidecar` by default (proxy, AI gateway, metrics merge), and the source of
# the preload for other containers: an init container copies /tapwire into a shared volume and the
# app sets NODE_OPTIONS=--import=/tapwire/register.js (deploy/ shows both).
#
#   docker build -t tapwire .                                   # from source: npm ci, npm run build
#   docker build --build-arg DIST_FROM=prebuilt -t tapwire .    # from an existing `npm run build`
#
# The bundle (dist/) has no runtime npm dependencies (pino-pretty is only for development on a
# TTY), so the final stage is the Node base image plus dist/ and nothing else.
ARG DIST_FROM=build

# The base image, named once in a literal FROM line: Dependabot keeps it current (it reads no ARG
# values), and tests/sidecar-image.test.ts makes a local image of this name to build from.
FROM node:24.21.0-bookworm-slim AS node-base

FROM node-base AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# dist/ from the build context, for builds without registry access (tests/sidecar-image.test.ts).
FROM scratch AS prebuilt
COPY dist/ /src/dist/

# Unused stages are skipped (BuildKit, buildah), so only the selected source of dist/ is built.
FROM ${DIST_FROM} AS dist

FROM node-base
ENV NODE_ENV=production \
    TAPWIRE_ENV=production \
    TAPWIRE_PROXY_PORT=8080 \
    OTEL_EXPORTER_PROMETHEUS_PORT=9464
WORKDIR /tapwire
COPY --from=dist /src/dist/ /tapwire/
# The `node` user (uid 1000) of the Node images; numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# 8080 the inbound proxy, 9464 /metrics, /healthz, /readyz and OTLP/HTTP (POST /v1/metrics).
# The AI gateway (9465) listens on 127.0.0.1 only: it serves the pod, not the network.
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OTEL_EXPORTER_PROMETHEUS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/tapwire/cli/main.js"]
CMD ["sidecar"]
