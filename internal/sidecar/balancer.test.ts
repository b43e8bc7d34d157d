import { describe, expect, test } from "bun:test";
import { seededRandom } from "../testing/seeded-random.ts";
import { Balancer } from "./balancer.ts";

const instances = ["a", "b", "c", "d"].map((id) => ({ id, address: `http://${id}:15006` }));

describe("balancer", () => {
  test("spreads picks over every instance", () => {
    const balancer = new Balancer(seededRandom(7));
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const picked = balancer.pick(instances)!;
      counts.set(picked.id, (counts.get(picked.id) ?? 0) + 1);
    }
    for (const instance of instances) expect(counts.get(instance.id)!).toBeGreaterThan(700);
  });

  test("of two candidates the one with fewer requests in flight wins", () => {
    const balancer = new Balancer(seededRandom(3));
    const busy = [balancer.begin("a"), balancer.begin("a"), balancer.begin("a")];
    let picksOfA = 0;
    for (let i = 0; i < 1000; i++) if (balancer.pick(instances.slice(0, 2))!.id === "a") picksOfA++;
    expect(picksOfA).toBe(0);
    for (const done of busy) done();
    expect(balancer.load("a")).toBe(0);
  });

  test("excluded instances are avoided, unless nothing else is left", () => {
    const balancer = new Balancer(seededRandom(11));
    for (let i = 0; i < 200; i++) expect(balancer.pick(instances, new Set(["a", "b", "c"]))!.id).toBe("d");
    expect(balancer.pick(instances.slice(0, 1), new Set(["a"]))!.id).toBe("a");
    expect(balancer.pick([])).toBeUndefined();
  });

  test("a finished request is counted off once, however often its end is called", () => {
    const balancer = new Balancer();
    const done = balancer.begin("x");
    balancer.begin("x");
    done();
    done();
    expect(balancer.load("x")).toBe(1);
  });
});
