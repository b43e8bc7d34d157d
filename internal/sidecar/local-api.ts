// The local API on the outbound port, for the app beside this sidecar: its configuration from the
// sidecar's own copy (so it answers while the control plane is down), a watch of config changes,
// and the sidecar's status. Everything here is loopback-only by default (--outbound-listen).
import { streamSSE } from "hono/streaming";
import { HttpError, type App } from "../server/index.ts";
import { keyProblem } from "../kv/index.ts";
import type { MeshState } from "./mesh-state.ts";

export interface LocalApiOptions {
  readonly state: MeshState;
  /** The whole of GET /v1/status, assembled by the sidecar. */
  readonly status: () => unknown;
  readonly stopping: AbortSignal;
}

// The key rule is the store's (internal/kv); imported from there, the sidecar does not load the stores.
function keyOf(raw: string): string {
  const problem = keyProblem(raw);
  if (problem !== undefined) throw new HttpError(400, "invalid_key", `invalid key ${JSON.stringify(raw)}: ${problem}`);
  return raw;
}

function prefixOf(raw: string): string {
  if (raw !== "") keyOf(raw.endsWith("/") ? raw.slice(0, -1) : raw);
  return raw;
}

/** Mounts the local routes on the outbound port's app. */
export function mountLocalApi(app: App, options: LocalApiOptions): void {
  const { state } = options;

  app.get("/v1/status", (c) => c.json(options.status()));

  // A watch of config keys from the local copy: the current values under the prefix first (one
  // `put` each, then `event: synced`), then every change as it arrives from the control plane.
  app.get("/v1/config/watch", (c) => {
    const prefix = prefixOf(c.req.query("prefix") ?? "");
    return streamSSE(c, async (stream) => {
      const queue: string[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = state.onConfig((key, value, revision, type) => {
        if (!key.startsWith(prefix)) return;
        queue.push(JSON.stringify({ type, key, ...(type === "put" ? { value } : {}), revision }));
        wake?.();
      });
      let open = true;
      const close = () => {
        open = false;
        wake?.();
      };
      stream.onAbort(close);
      options.stopping.addEventListener("abort", close, { once: true });
      try {
        for (const { key, value } of state.configUnder(prefix)) {
          await stream.writeSSE({ event: "put", data: JSON.stringify({ type: "put", key, value, revision: state.revision }) });
        }
        await stream.writeSSE({ event: "synced", data: JSON.stringify({ revision: state.revision }) });
        while (open) {
          const next = queue.shift();
          if (next !== undefined) {
            const type = next.startsWith('{"type":"put"') ? "put" : "delete";
            await stream.writeSSE({ event: type, data: next });
            continue;
          }
          const timedOut = await Promise.race([
            new Promise<false>((resolve) => {
              wake = () => resolve(false);
            }),
            Bun.sleep(15_000).then(() => true),
          ]);
          wake = undefined;
          if (timedOut && open) await stream.write(": keepalive\n\n");
        }
      } finally {
        unsubscribe();
      }
    });
  });

  app.get("/v1/config", (c) => {
    const prefix = prefixOf(c.req.query("prefix") ?? "");
    return c.json({ prefix, revision: state.revision, items: state.configUnder(prefix) });
  });

  app.get("/v1/config/*", (c) => {
    const key = keyOf(c.req.path.slice("/v1/config/".length));
    const value = state.config(key);
    if (value === undefined) throw new HttpError(404, "not_found", `no config key ${key}`);
    return c.json({ key, value, revision: state.revision });
  });
}
