// The floor the runtime sets, for scripts/bench/proxy.ts: the least a Bun proxy can do (Bun.serve
// in, fetch out, the response streamed back as it came), with none of the sidecar's layers.
//   bun scripts/bench/proxy-bare-bun.ts --port 8080 --upstream http://127.0.0.1:8081
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { port: { type: "string" }, upstream: { type: "string" } } });
const upstream = values.upstream ?? "http://127.0.0.1:8081";
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: Number(values.port ?? 0),
  fetch(request) {
    const target = upstream + request.url.slice(request.url.indexOf("/", 8));
    return fetch(target, { method: request.method, headers: request.headers, body: request.body, decompress: false } as RequestInit);
  },
});
process.on("SIGTERM", () => void server.stop(true).then(() => process.exit(0)));
