import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { createSidecarMetrics } from "../sidecar/telemetry/index.ts";
import { parsePrometheusText } from "./prom-text.ts";
import { BUCKETS, readMember, readSidecar } from "./readings.ts";

/** A sidecar's real /metrics text, from the sidecar's own metrics code. */
async function sidecarText(feed: (m: ReturnType<typeof createSidecarMetrics>) => void): Promise<string> {
  const registry = new Registry();
  const metrics = createSidecarMetrics(registry);
  feed(metrics);
  return registry.metrics();
}

describe("readSidecar", () => {
  test("sums inbound requests per domain over methods and status classes; 5xx and errors are errors; outbound is left to cross-node", async () => {
    const text = await sidecarText((m) => {
      m.observeRequest("inbound", "execution", "GET", 200, 0.002);
      m.observeRequest("inbound", "execution", "POST", 201, 0.004);
      m.observeRequest("inbound", "execution", "GET", 503, 0.1);
      m.observeRequest("inbound", "execution", "GET", "error", 1);
      m.observeRequest("inbound", "state", "GET", 404, 0.001);
      m.observeRequest("outbound", "execution", "GET", 200, 0.003);
      m.observeCrossNode("execution", 0.003);
      m.observeCrossNode("state", 0.2);
      m.breakerTransition("execution", "closed", "open");
      m.setConfigRevision(42);
    });
    const reading = readSidecar(parsePrometheusText(text).samples);
    const execution = reading.domains.get("execution")!;
    expect(execution.count).toBe(4);
    expect(execution.errors).toBe(2);
    expect(execution.sum).toBeCloseTo(1.106, 10);
    expect(execution.buckets[BUCKETS - 1]).toBe(4); // +Inf holds every observation
    expect(reading.domains.get("state")!.errors).toBe(0); // a 404 is the caller's problem, not an error
    expect(reading.crossNode.count).toBe(2);
    expect(reading.breakers).toEqual([{ domain: "execution", state: "open" }]);
    expect(reading.configRevision).toBe(42);
  });

  test("a member's raft gauges say whether it leads", () => {
    const { samples } = parsePrometheusText("nagent_raft_is_leader 1\nnagent_raft_term 7\n");
    expect(readMember(samples)).toEqual({ isLeader: true, term: 7 });
    expect(readMember([])).toEqual({ isLeader: undefined, term: undefined });
  });
});
