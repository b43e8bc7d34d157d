// The demo agent service that `npm start` puts behind a sidecar: a stand-in for a business
// domain service, small enough to read in one go. It answers on loopback only.
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { port: { type: "string", default: "3000" }, name: { type: "string", default: "demo-agent" } },
});
const port = Number(values.port);
const name = values.name ?? "demo-agent";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port,
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return Response.json({ status: "ok" });
    if (url.pathname === "/v1/chat" && request.method === "POST") {
      let message = "";
      try {
        message = String(((await request.json()) as { message?: unknown }).message ?? "");
      } catch {
        return Response.json({ error: { code: "malformed_json", message: "body must be JSON" } }, { status: 400 });
      }
      return Response.json({ agent: name, reply: `${name} heard: ${message}` });
    }
    if (url.pathname === "/") return Response.json({ agent: name, endpoints: ["GET /healthz", "POST /v1/chat"] });
    return Response.json({ error: { code: "not_found", message: `no route for ${request.method} ${url.pathname}` } }, { status: 404 });
  },
});

const stop = () => void server.stop().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
console.log(JSON.stringify({ level: "info", service: name, msg: "listening", url: `http://127.0.0.1:${server.port}` }));
