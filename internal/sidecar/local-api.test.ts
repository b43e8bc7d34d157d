import { describe, expect, test } from "bun:test";
import { SseReader } from "../controlplane/sse-reader.ts";
import { createDaemonApp } from "../server/index.ts";
import { captureLogger, createDaemonMetrics } from "../telemetry/index.ts";
import { mountLocalApi } from "./local-api.ts";
import { MeshState } from "./mesh-state.ts";

function localApi() {
  const { logger } = captureLogger("silent");
  const state = new MeshState(logger);
  state.reset(
    [
      { key: "config/services/payment/timeout", value: { ms: 250 } },
      { key: "config/services/payment/retries", value: 3 },
      { key: "config/other", value: "x" },
      { key: "registry/nodes/n1", value: { id: "n1", address: "http://10.0.0.1:15006", domains: ["execution"] } },
      { key: "registry/health/n1", value: { since: "2026-01-01T00:00:00Z" } },
    ],
    7,
  );
  const daemon = createDaemonApp({ logger, metrics: createDaemonMetrics("sidecar"), maxBodyBytes: 1024 });
  mountLocalApi(daemon.app, { state, status: () => ({ revision: state.revision }), stopping: daemon.stopping });
  return { state, daemon };
}

describe("the local API", () => {
  test("config by key and by prefix, from the sidecar's copy", async () => {
    const { daemon } = localApi();
    const one = await daemon.app.request("/v1/config/services/payment/timeout");
    expect(await one.json()).toEqual({ key: "services/payment/timeout", value: { ms: 250 }, revision: 7 });
    expect((await daemon.app.request("/v1/config/nope")).status).toBe(404);
    expect((await daemon.app.request("/v1/config/bad//key")).status).toBe(400);
    const listed = await (await daemon.app.request("/v1/config?prefix=services/payment/")).json();
    expect(listed).toEqual({
      prefix: "services/payment/",
      revision: 7,
      items: [
        { key: "services/payment/retries", value: 3 },
        { key: "services/payment/timeout", value: { ms: 250 } },
      ],
    });
    expect(await (await daemon.app.request("/v1/status")).json()).toEqual({ revision: 7 });
  });

  test("the watch gives the current values, then synced, then each change under the prefix", async () => {
    const { daemon, state } = localApi();
    const response = await daemon.app.request("/v1/config/watch?prefix=services/");
    const events = new SseReader(response.body!);
    const first = [await events.next(), await events.next(), await events.next()];
    expect(first.map((event) => event?.event)).toEqual(["put", "put", "synced"]);
    expect(JSON.parse(first[0]!.data)).toEqual({ type: "put", key: "services/payment/retries", value: 3, revision: 7 });
    state.apply("put", "config/other", "ignored", 8);
    state.apply("put", "config/services/payment/timeout", { ms: 300 }, 9);
    state.apply("delete", "config/services/payment/retries", undefined, 10);
    const change = await events.next();
    expect(change?.event).toBe("put");
    expect(JSON.parse(change!.data)).toEqual({ type: "put", key: "services/payment/timeout", value: { ms: 300 }, revision: 9 });
    const removal = await events.next();
    expect(removal?.event).toBe("delete");
    expect(JSON.parse(removal!.data)).toEqual({ type: "delete", key: "services/payment/retries", revision: 10 });
    daemon.beginDrain("test");
    expect(await events.next()).toBeUndefined();
  });
});

describe("the mesh state's views", () => {
  test("healthy instances of a domain, policies validated, revocations", () => {
    const { state } = localApi();
    expect(state.instancesOf("execution").map((node) => node.id)).toEqual(["n1"]);
    state.apply("delete", "registry/health/n1", undefined, 8);
    state.apply("put", "policies/resilience/bad", { target: { domain: "execution" }, timeoutMs: -1 }, 9);
    state.apply("put", "policies/resilience/good", { target: { domain: "execution" }, timeoutMs: 100 }, 10);
    state.apply("put", "auth/revocations/jti-1", { id: "jti-1", kind: "jwt", subject: "s", revokedAt: "2026-01-01T00:00:00Z", expiresAt: 9_999_999_999 }, 11);
    state.rebuild();
    expect(state.instancesOf("execution")).toEqual([]);
    expect(state.resilienceFor("execution")?.name).toBe("good");
    expect(state.isRevoked("jti-1")).toBe(true);
    expect(state.revision).toBe(11);
  });
});
