// The processes scripts/bench/proxy.ts measures the sidecar against, each from a config written to
// a temp dir and run in the foreground under spawnService, so nothing outlives the run:
//   upstream    nginx answering a fixed 27-byte JSON body itself (`return 200`): the cheapest,
//               most neutral server on hand, so a proxy in front of it gets as much CPU as possible
//   nginx       one worker, proxy_pass with an upstream keepalive pool, no access log
//   haproxy     one thread, mode http, http-reuse always, no logging
//   two nginx   two nginx proxies in a row, each like the one above (own prefix, own keepalive
//               pool): the shape of the two-sidecar path, done by a C proxy
//   bare Bun    scripts/bench/proxy-bare-bun.ts: Bun.serve + fetch, nothing else
//   http1 floor scripts/bench/proxy-http1-floor.ts: the sidecar's own HTTP/1.1 server and client
//               (internal/http1), nothing else
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, spawnService, waitUntilReady, type ServiceProcess } from "../../internal/testing/index.ts";

/** The upstream's fixed answer: small, like an agent's acknowledgement. */
export const UPSTREAM_BODY = '{"ok":true,"via":"upstream"}';

/** A started peer: its URL and the process to stop. */
export interface Peer {
  readonly name: string;
  readonly url: string;
  readonly process: ServiceProcess;
}

/** Executables the peers need, with the Debian package that provides each. */
export const PEER_EXECUTABLES = [
  { executable: "nginx", debianPackage: "nginx-light" },
  { executable: "haproxy", debianPackage: "haproxy" },
  { executable: "wrk", debianPackage: "wrk" },
] as const;

async function answers(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(500) });
  await response.arrayBuffer();
  return response.ok;
}

/** The nginx directives every instance here shares: everything under the temp prefix, no logs. */
function nginxMain(prefix: string, http: string): string {
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  # Keep-alive connections are never closed under a benchmark's load (the default is 1000 requests).
  keepalive_requests 10000000;
  keepalive_timeout 300s;
${http}
}
`;
}

function startNginx(name: string, nginx: string, prefix: string, http: string, command: (argv: string[]) => string[]): ServiceProcess {
  const config = join(prefix, "nginx.conf");
  writeFileSync(config, nginxMain(prefix, http));
  return spawnService({ name, command: command([nginx, "-p", prefix, "-c", config, "-e", join(prefix, "error.log"), "-g", "daemon off;"]), ownedDir: prefix });
}

/** The upstream every path ends at: nginx itself answering the fixed body. */
export async function startUpstream(nginx: string, command: (argv: string[]) => string[]): Promise<Peer> {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), "nagent-bench-upstream-"));
  const http = `  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { default_type application/json; return 200 '${UPSTREAM_BODY}'; }
  }`;
  const service = startNginx("upstream (nginx return 200)", nginx, prefix, http, command);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(service, () => answers(url));
  return { name: "upstream", url, process: service };
}

/** nginx as a reverse proxy with one worker and upstream keepalive. */
export async function startNginxProxy(nginx: string, upstream: string, command: (argv: string[]) => string[], name = "nginx proxy", prefixName = "nginx"): Promise<Peer> {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), `nagent-bench-${prefixName}-`));
  const http = `  upstream backend {
    server ${new URL(upstream).host};
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }`;
  const service = startNginx(name, nginx, prefix, http, command);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(service, () => answers(url));
  return { name, url, process: service };
}

/** Two nginx hops, each started like startNginxProxy. */
export interface TwoNginxHops {
  /** What the load generator calls: the first hop. */
  readonly first: Peer;
  /** Between the first hop and the upstream. */
  readonly second: Peer;
}

/**
 * nginx → nginx → upstream, each hop one worker with its own temp prefix and its own keepalive pool
 * towards the next: the same shape as app → sidecar A → sidecar B → app, so the run shows what two
 * hops of a C proxy add on this machine. The second hop starts first (the first one's upstream).
 */
export async function startTwoNginxHops(nginx: string, upstream: string, command: (argv: string[]) => string[]): Promise<TwoNginxHops> {
  const second = await startNginxProxy(nginx, upstream, command, "nginx proxy, second hop", "nginx-hop2");
  try {
    const first = await startNginxProxy(nginx, second.url, command, "nginx proxy, first hop", "nginx-hop1");
    return { first, second };
  } catch (error) {
    await second.process.stop();
    throw error;
  }
}

/** HAProxy with one thread, mode http, connection reuse towards the upstream, no logging. */
export async function startHaproxy(haproxy: string, upstream: string, command: (argv: string[]) => string[]): Promise<Peer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "nagent-bench-haproxy-"));
  const config = join(dir, "haproxy.cfg");
  writeFileSync(
    config,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
frontend bench
  bind 127.0.0.1:${port}
  default_backend upstream
backend upstream
  server up ${new URL(upstream).host}
`,
  );
  const service = spawnService({ name: "haproxy", command: command([haproxy, "-db", "-f", config]), ownedDir: dir });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(service, () => answers(url));
  return { name: "haproxy", url, process: service };
}

/** The 15-line Bun.serve + fetch proxy. */
export async function startBareBunProxy(upstream: string, command: (argv: string[]) => string[]): Promise<Peer> {
  const port = await freePort();
  const script = join(import.meta.dir, "proxy-bare-bun.ts");
  const service = spawnService({ name: "bare Bun proxy", command: command([process.execPath, script, "--port", String(port), "--upstream", upstream]) });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(service, () => answers(url));
  return { name: "bare Bun proxy", url, process: service };
}

/** The sidecar's transport alone: scripts/bench/proxy-http1-floor.ts (listenHttp1 in, HttpClient out). */
export async function startHttp1Floor(upstream: string, command: (argv: string[]) => string[]): Promise<Peer> {
  const port = await freePort();
  const script = join(import.meta.dir, "proxy-http1-floor.ts");
  const service = spawnService({ name: "http1 floor proxy", command: command([process.execPath, script, "--port", String(port), "--upstream", upstream]) });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(service, () => answers(url));
  return { name: "http1 floor proxy", url, process: service };
}
