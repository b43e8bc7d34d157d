# syntax=docker/dockerfile:1
# The Nagent Mesh sidecar, as a container image: one per business node, in front of its agent
# service.
#
#   docker build -f build/docker/sidecar.Dockerfile -t nagent/sidecar:local .
#
# The build context is the repository root. Two stages: the first installs the dependencies from
# package-lock.json and compiles cmd/sidecar/main.ts into one self-contained executable with
# `bun build --compile` (the flags of scripts/build.ts, i.e. `npm run build`); the second is a slim
# Debian with a non-root user and that one file (no node_modules, no sources, no Bun install).
#
# BUN_VERSION is the Bun the repository pins in package-lock.json (the `bun` npm package), so the
# image runs the runtime the tests ran; test/compose.test.ts checks that they agree.
ARG BUN_VERSION=1.4.5

FROM oven/bun:${BUN_VERSION} AS build
WORKDIR /src
# Dependencies first, so that a source change does not reinstall them. There is no bun.lock: Bun
# reads package-lock.json, and --frozen-lockfile refuses to build if it disagrees with package.json.
# --production leaves out the dev tools (TypeScript, esbuild, ...), which compiling does not need;
# --ignore-scripts: no install script is needed to bundle.
COPY package.json package-lock.json bunfig.toml ./
RUN bun install --frozen-lockfile --production --ignore-scripts
COPY tsconfig.json ./
COPY cmd/sidecar/ cmd/sidecar/
COPY internal/ internal/
COPY pkg/ pkg/
# The commit --version names: there is no .git in the build context, so pass it in, e.g.
#   --build-arg NAGENT_BUILD_COMMIT=$(git rev-parse --short=12 HEAD)
ARG NAGENT_BUILD_COMMIT=unknown
RUN bun build --compile --minify-syntax --minify-whitespace --define "NAGENT_BUILD_COMMIT=\"${NAGENT_BUILD_COMMIT}\"" \
      cmd/sidecar/main.ts --outfile /out/sidecar \
 && /out/sidecar --version

FROM debian:bookworm-slim
# Debian slim rather than distroless: it has the /bin/sh that HEALTHCHECK below needs. The
# executable needs nothing but glibc.
RUN groupadd --system --gid 10001 nagent \
 && useradd --system --uid 10001 --gid nagent --home-dir /var/lib/nagent --create-home --shell /usr/sbin/nologin nagent
COPY --from=build /out/sidecar /usr/local/bin/sidecar
WORKDIR /var/lib/nagent
# The last known configuration, registry, policies and keys, so that the sidecar also starts while
# no control-plane member answers; mount a volume on /var/lib/nagent to keep it across restarts.
ENV NAGENT_CACHE_DIR=/var/lib/nagent/cache
USER 10001:10001
# 15006: inbound, where other sidecars call this node's domains. The outbound port (15001: the
# local app's calls and its configuration API) listens on 127.0.0.1 by default, so only a
# container sharing this one's network namespace (the agent service) reaches it.
EXPOSE 15006
# Ready = synchronised with the control plane (or loaded from the cache dir). There is no curl in
# the image: BUN_BE_BUN=1 makes the executable behave as the `bun` it embeds, which runs the
# probe against the outbound port (it follows NAGENT_OUTBOUND_LISTEN; with --outbound-listen on
# the command line, or a listen host other than 0.0.0.0 or 127.0.0.1, override the healthcheck).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD BUN_BE_BUN=1 /usr/local/bin/sidecar -e "fetch('http://127.0.0.1:' + (process.env.NAGENT_OUTBOUND_LISTEN || ':15001').split(':').pop() + '/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
ENTRYPOINT ["/usr/local/bin/sidecar"]
