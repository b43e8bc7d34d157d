# syntax=docker/dockerfile:1
# The Nagent Mesh control-plane member, as a container image.
#
#   docker build -f build/docker/control-plane.Dockerfile -t nagent/control-plane:local .
#
# The build context is the repository root. Two stages: the first installs the dependencies from
# package-lock.json and compiles cmd/control-plane/main.ts into one self-contained executable with
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
COPY cmd/control-plane/ cmd/control-plane/
COPY internal/ internal/
COPY pkg/ pkg/
# The commit --version names: there is no .git in the build context, so pass it in, e.g.
#   --build-arg NAGENT_BUILD_COMMIT=$(git rev-parse --short=12 HEAD)
ARG NAGENT_BUILD_COMMIT=unknown
RUN bun build --compile --minify-syntax --minify-whitespace --define "NAGENT_BUILD_COMMIT=\"${NAGENT_BUILD_COMMIT}\"" \
      cmd/control-plane/main.ts --outfile /out/control-plane \
 && /out/control-plane --version

FROM debian:bookworm-slim
# Debian slim rather than distroless: it has the /bin/sh that HEALTHCHECK below needs. The
# executable needs nothing but glibc.
RUN groupadd --system --gid 10001 nagent \
 && useradd --system --uid 10001 --gid nagent --home-dir /var/lib/nagent --create-home --shell /usr/sbin/nologin nagent
COPY --from=build /out/control-plane /usr/local/bin/control-plane
WORKDIR /var/lib/nagent
# The integrated (Raft) store's write-ahead log and snapshots; mount a volume on /var/lib/nagent.
# With --store etcd nothing durable is written here.
ENV NAGENT_DATA_DIR=/var/lib/nagent/data
USER 10001:10001
# The HTTP API; member-to-member (Raft) traffic uses the same port.
EXPOSE 8080
# Ready = the member knows a leader, has applied what is committed and holds the admin credential.
# There is no curl in the image: BUN_BE_BUN=1 makes the executable behave as the `bun` it embeds,
# which runs the probe. The port follows NAGENT_LISTEN; with --listen on the command line, or a
# listen host other than 0.0.0.0 or 127.0.0.1, override the healthcheck.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD BUN_BE_BUN=1 /usr/local/bin/control-plane -e "fetch('http://127.0.0.1:' + (process.env.NAGENT_LISTEN || ':8080').split(':').pop() + '/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
ENTRYPOINT ["/usr/local/bin/control-plane"]
