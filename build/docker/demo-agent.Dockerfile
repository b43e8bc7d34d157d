# syntax=docker/dockerfile:1
# The demo agent service (scripts/demo/agent.ts), as a container image: the stand-in for a business
# domain service that `npm start` puts behind a sidecar.
#
#   docker build -f build/docker/demo-agent.Dockerfile -t nagent/demo-agent:local .
#
# It listens on 127.0.0.1 only (--port, default 3000), so it must share one network namespace with
# its sidecar, as a pod's containers do (build/docker-compose.yml: the sidecar joins the agent's,
# network_mode: "service:agent-node-N"): the sidecar reaches it at http://127.0.0.1:3000 and it
# reaches the sidecar's outbound port at http://127.0.0.1:15001; nothing else can call it directly.
#
# The build context is the repository root. The agent imports nothing outside Bun and Node.js
# built-ins, so no dependency is installed: the first stage only compiles it (the flags of
# scripts/build.ts), the second is a slim Debian with a non-root user and that one file.
ARG BUN_VERSION=1.4.5

FROM oven/bun:${BUN_VERSION} AS build
WORKDIR /src
COPY scripts/demo/agent.ts scripts/demo/agent.ts
RUN bun build --compile --minify-syntax --minify-whitespace scripts/demo/agent.ts --outfile /out/demo-agent

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 nagent \
 && useradd --system --uid 10001 --gid nagent --home-dir /var/lib/nagent --create-home --shell /usr/sbin/nologin nagent
COPY --from=build /out/demo-agent /usr/local/bin/demo-agent
WORKDIR /var/lib/nagent
USER 10001:10001
# On 127.0.0.1 only: documentation, reachable from the shared network namespace alone.
EXPOSE 3000
# The probe follows the default port; with another --port, override the healthcheck.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD BUN_BE_BUN=1 /usr/local/bin/demo-agent -e "fetch('http://127.0.0.1:3000/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
ENTRYPOINT ["/usr/local/bin/demo-agent"]
CMD ["--port", "3000"]
