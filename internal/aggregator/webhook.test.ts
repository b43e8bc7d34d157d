import { afterEach, describe, expect, test } from "bun:test";
import { captureLogger } from "../telemetry/index.ts";
import { criticalRules, type AlertChange } from "./alerts.ts";
import { WebhookNotifier, webhookMessage } from "./webhook.ts";

const rule = criticalRules().find((r) => r.name === "cross_node_latency")!;
const T = Date.UTC(2026, 11, 5, 12, 0, 0);
const firing: AlertChange = { rule, from: "pending", to: "firing", value: 0.08, activeAt: T - 30_000, at: T };
const resolved: AlertChange = { rule, from: "firing", to: "ok", value: 0.01, activeAt: T - 30_000, at: T + 60_000 };

let server: ReturnType<typeof Bun.serve> | undefined;
afterEach(() => server?.stop(true));

describe("webhook messages", () => {
  test("are Alertmanager's version 4: status, labels, annotations, startsAt, endsAt (the zero time while firing)", () => {
    const message = webhookMessage([firing], "http://agg:9100") as any;
    expect(message).toMatchObject({ version: "4", status: "firing", receiver: "nagent-aggregator", externalURL: "http://agg:9100" });
    expect(message.alerts[0]).toMatchObject({
      status: "firing",
      labels: { alertname: "NagentCrossNodeLatencyHigh", metric: "cross_node_latency", severity: "warning" },
      startsAt: new Date(T - 30_000).toISOString(),
      endsAt: "0001-01-01T00:00:00Z",
      generatorURL: "http://agg:9100/v1/alerts",
    });
    expect(message.alerts[0].annotations.description).toContain("0.08");
    const back = webhookMessage([resolved], "http://agg:9100") as any;
    expect(back.status).toBe("resolved");
    expect(back.alerts[0].endsAt).toBe(new Date(T + 60_000).toISOString());
  });
});

describe("WebhookNotifier", () => {
  test("delivers firing and resolved transitions in order, retries a refusal, and skips ok ↔ pending", async () => {
    const received: any[] = [];
    let refuseFirst = true;
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(request) {
        if (refuseFirst) {
          refuseFirst = false;
          return new Response("busy", { status: 503 });
        }
        received.push(await request.json());
        return new Response("ok");
      },
    });
    const capture = captureLogger();
    const notifier = new WebhookNotifier({ url: `http://127.0.0.1:${server.port}/`, externalUrl: "http://agg", logger: capture.logger, attempts: 3 });
    notifier.notify([{ ...firing, from: "ok", to: "pending" }]); // not sent
    notifier.notify([firing]);
    notifier.notify([resolved]);
    const deadline = Date.now() + 5_000;
    while (received.length < 2 && Date.now() < deadline) await Bun.sleep(20);
    expect(received.map((m) => m.status)).toEqual(["firing", "resolved"]);
    expect(notifier.delivered).toBe(2);
    notifier.close();
  });
});
