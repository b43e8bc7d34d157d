// The floor the sidecar's transport sets, for scripts/bench/proxy.ts: a proxy built from the
// project's own HTTP/1.1 server and client (internal/http1: listenHttp1 in, HttpClient out, the
// answer streamed back as it came) with nothing between them: no auth, authz, tracing, metrics or
// resilience. Beside the bare Bun proxy (Bun.serve + fetch, the runtime's floor) and the sidecar
// (the same transport with the whole pipeline), it tells what the transport costs and what the
// pipeline adds on top of it.
//   bun scripts/bench/proxy-http1-floor.ts --port 8080 --upstream http://127.0.0.1:8081
import { parseArgs } from "node:util";
import { Fields, HttpClient, listenHttp1, originOf, type HttpResponse } from "../../internal/http1/index.ts";

const { values } = parseArgs({ options: { port: { type: "string" }, upstream: { type: "string" } } });
const upstream = originOf(values.upstream ?? "http://127.0.0.1:8081");
const encoder = new TextEncoder();

/** The JSON error answer the sidecar gives ({"error":{"code","message"}}), for the server's own refusals and a failed call. */
function errorResponse(status: number, code: string, message: string): HttpResponse {
  return { status, headers: new Fields(["content-type", "application/json"]), body: encoder.encode(JSON.stringify({ error: { code, message } })) };
}

const client = new HttpClient({ onInternalError: (error) => console.error("internal error in the HTTP client:", error) });
const server = listenHttp1({
  hostname: "127.0.0.1",
  port: Number(values.port ?? 0),
  errorResponse,
  onInternalError: (error) => console.error("internal error in the HTTP server:", error),
  handler(request) {
    // Host is the next hop's (the client writes the origin's); framing fields are the client's to
    // write, and it drops what came in. The request itself is the cancel link, as in the sidecar.
    request.headers.delete("host");
    return client.request(upstream, { method: request.method, target: request.target, headers: request.headers, body: request.body }, request).catch((error: unknown) =>
      errorResponse(502, "upstream_unavailable", `the upstream did not answer: ${(error as Error)?.message ?? String(error)}`),
    );
  },
});
process.on("SIGTERM", () => {
  client.close();
  void server.stop(true).then(() => process.exit(0));
});
