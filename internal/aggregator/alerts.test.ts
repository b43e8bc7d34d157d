import { describe, expect, test } from "bun:test";
import { AlertEvaluator, criticalRules, MAX_TRANSITIONS } from "./alerts.ts";

const T0 = Date.UTC(2026, 11, 5, 12, 0, 0);
const S = 1_000;

function evaluator(forMs = 30 * S, resolveForMs = 30 * S) {
  return new AlertEvaluator(criticalRules(), forMs, resolveForMs, T0);
}
const state = (e: AlertEvaluator, name: string) => e.views().find((v) => v.name === name)!;

describe("the alert state machine", () => {
  test("ok → pending when the condition holds, firing once it has held for `for`, ok after it has been false for resolveFor", () => {
    const e = evaluator();
    expect(e.evaluate({ cross_node_latency: 0.01 }, T0)).toEqual([]);
    const pending = e.evaluate({ cross_node_latency: 0.08 }, T0 + 5 * S);
    expect(pending.map((c) => [c.rule.name, c.from, c.to])).toEqual([["cross_node_latency", "ok", "pending"]]);
    expect(e.evaluate({ cross_node_latency: 0.09 }, T0 + 30 * S)).toEqual([]); // 25 s < 30 s
    const firing = e.evaluate({ cross_node_latency: 0.09 }, T0 + 35 * S);
    expect(firing.map((c) => c.to)).toEqual(["firing"]);
    expect(firing[0]!.activeAt).toBe(T0 + 5 * S);
    expect(state(e, "cross_node_latency")).toMatchObject({ state: "firing", value: 0.09, activeAt: new Date(T0 + 5 * S).toISOString() });
    // Back under the threshold: still firing until it has stayed there for resolveFor.
    expect(e.evaluate({ cross_node_latency: 0.02 }, T0 + 40 * S)).toEqual([]);
    expect(e.evaluate({ cross_node_latency: 0.02 }, T0 + 69 * S)).toEqual([]);
    const resolved = e.evaluate({ cross_node_latency: 0.02 }, T0 + 70 * S);
    expect(resolved.map((c) => [c.from, c.to])).toEqual([["firing", "ok"]]);
    expect(state(e, "cross_node_latency").transitions.map((t) => `${t.from}>${t.to}`)).toEqual(["firing>ok", "pending>firing", "ok>pending"]);
  });

  test("a pending alert whose condition clears goes back to ok without ever firing", () => {
    const e = evaluator();
    e.evaluate({ circuit_breaker_open_count: 9 }, T0);
    const back = e.evaluate({ circuit_breaker_open_count: 2 }, T0 + 10 * S);
    expect(back.map((c) => [c.from, c.to])).toEqual([["pending", "ok"]]);
    expect(state(e, "circuit_breaker_open_count").activeAt).toBeNull();
  });

  test("a value wavering around its threshold does not flap: once firing it stays firing", () => {
    const e = evaluator(10 * S, 30 * S);
    e.evaluate({ request_success_rate: 0.9 }, T0);
    expect(e.evaluate({ request_success_rate: 0.9 }, T0 + 10 * S).map((c) => c.to)).toEqual(["firing"]);
    let transitions = 0;
    for (let i = 1; i <= 60; i++) {
      // 0.94 / 0.96 alternating every 5 s around 0.95: never 30 s on the good side
      transitions += e.evaluate({ request_success_rate: i % 2 === 0 ? 0.94 : 0.96 }, T0 + 10 * S + i * 5 * S).length;
    }
    expect(transitions).toBe(0);
    expect(state(e, "request_success_rate").state).toBe("firing");
  });

  test("a value wavering around its threshold from ok never fires: pending needs the condition to hold throughout, as in Prometheus", () => {
    const e = evaluator(10 * S, 30 * S);
    const changes = [];
    for (let i = 0; i <= 60; i++) changes.push(...e.evaluate({ request_success_rate: i % 2 === 0 ? 0.94 : 0.96 }, T0 + i * 5 * S));
    expect(changes.some((c) => c.to === "firing")).toBe(false);
    expect(state(e, "request_success_rate").state).not.toBe("firing");
  });

  test("the comparisons are strict: a value exactly at its threshold is fine", () => {
    const e = evaluator(0, 0);
    const changes = e.evaluate(
      { control_plane_availability: 0.99, config_sync_latency: 10, cross_node_latency: 0.05, network_partition_duration: 30, request_success_rate: 0.95, circuit_breaker_open_count: 5 },
      T0,
    );
    expect(changes).toEqual([]);
    expect(e.views().every((v) => v.state === "ok")).toBe(true);
  });

  test("for = 0 fires at once; no value (null) leaves the state as it is", () => {
    const e = evaluator(0, 0);
    expect(e.evaluate({ request_success_rate: 0.5 }, T0).map((c) => c.to)).toEqual(["firing"]);
    expect(e.evaluate({ request_success_rate: null }, T0 + S)).toEqual([]);
    expect(state(e, "request_success_rate")).toMatchObject({ state: "firing", value: null });
    expect(e.evaluate({ request_success_rate: 1 }, T0 + 2 * S).map((c) => c.to)).toEqual(["ok"]);
  });

  test("thresholds can be overridden, and transitions are capped", () => {
    const e = new AlertEvaluator(criticalRules({ cross_node_latency: 0.2 }), 0, 0, T0);
    expect(e.evaluate({ cross_node_latency: 0.1 }, T0)).toEqual([]);
    for (let i = 0; i < 30; i++) e.evaluate({ cross_node_latency: i % 2 === 0 ? 0.3 : 0.1 }, T0 + i * S);
    expect(state(e, "cross_node_latency").transitions).toHaveLength(MAX_TRANSITIONS);
    expect(state(e, "cross_node_latency").threshold).toBe(0.2);
  });
});
