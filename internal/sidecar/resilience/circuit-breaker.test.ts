// The breaker's state machine on a fake clock: when it trips, how long it stays open, how many
// probes it lets through, and what its window forgets.
import { describe, expect, test } from "bun:test";
import { CircuitBreaker, type BreakerState } from "./circuit-breaker.ts";
import { FakeTime } from "./fake-time.ts";
import { breakerPolicy } from "./test-policies.ts";

function breaker(section: Record<string, unknown>) {
  const time = new FakeTime(1_000_000);
  const transitions: [BreakerState, BreakerState][] = [];
  const b = new CircuitBreaker(breakerPolicy(section), { clock: time, onTransition: (from, to) => transitions.push([from, to]) });
  const fail = (n = 1) => {
    for (let i = 0; i < n; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.record("failure");
    }
  };
  const succeed = (n = 1) => {
    for (let i = 0; i < n; i++) {
      expect(b.tryAcquire()).toBe(true);
      b.record("success");
    }
  };
  return { b, time, transitions, fail, succeed };
}

describe("closed → open", () => {
  test("consecutiveFailures: opens on exactly the Nth failure in a row; a success starts the count again", () => {
    const { b, fail, succeed, transitions } = breaker({ trip: "consecutiveFailures >= 3" });
    fail(2);
    succeed();
    fail(2);
    expect(b.state).toBe("closed");
    fail();
    expect(b.state).toBe("open");
    expect(transitions).toEqual([["closed", "open"]]);
  });

  test("errorRate with a minimum of requests: no trip below the minimum however bad the rate", () => {
    const { b, fail, succeed } = breaker({ trip: "requests >= 10 && errorRate > 0.5" });
    fail(5);
    succeed(4);
    expect(b.state).toBe("closed"); // 9 requests, 5 failures
    fail();
    expect(b.state).toBe("open"); // 10 requests, 6 failures: 0.6
  });

  test("errorRate exactly at the threshold does not trip a strict comparison", () => {
    const { b, fail, succeed } = breaker({ trip: "requests >= 10 && errorRate > 0.5" });
    succeed(5);
    fail(5);
    expect(b.state).toBe("closed");
    expect(b.stats()).toMatchObject({ requests: 10, failures: 5, errorRate: 0.5, consecutiveFailures: 5 });
    fail();
    expect(b.state).toBe("open");
  });

  test("the trip is evaluated after a success too, as the docs say (after each completed call)", () => {
    const { b, fail, succeed } = breaker({ trip: "requests >= 20 && errorRate > 0.5" });
    fail(11);
    succeed(8);
    expect(b.state).toBe("closed"); // 19 requests
    succeed();
    expect(b.state).toBe("open"); // 20 requests, 11 failures: 0.55
  });

  test("the window forgets old buckets", () => {
    const { b, time, fail } = breaker({ trip: "failures >= 3", windowMs: 1000 });
    fail(2);
    time.advance(899); // the same window of ten 100 ms buckets
    expect(b.stats().failures).toBe(2);
    time.advance(101);
    expect(b.stats().failures).toBe(0);
    fail(2);
    expect(b.state).toBe("closed");
    time.advance(500);
    fail();
    expect(b.state).toBe("open");
  });
});

describe("open and half-open", () => {
  test("rejects while open, half-opens after openMs and admits at most halfOpenRequests probes", () => {
    const { b, time, fail, transitions } = breaker({ trip: "consecutiveFailures >= 1", openMs: 5000, halfOpenRequests: 2 });
    fail();
    expect(b.tryAcquire()).toBe(false);
    time.advance(4999);
    expect(b.tryAcquire()).toBe(false);
    expect(b.state).toBe("open");
    time.advance(1);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    expect(b.state).toBe("half-open");
    expect(b.probesInFlight).toBe(2);
    expect(transitions).toEqual([
      ["closed", "open"],
      ["open", "half-open"],
    ]);
  });

  test("closes once its probes succeed, with a fresh window", () => {
    const { b, time, fail, transitions } = breaker({ trip: "failures >= 3", openMs: 100, halfOpenRequests: 2 });
    fail(3);
    time.advance(100);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(true);
    b.record("success");
    expect(b.state).toBe("half-open");
    expect(b.tryAcquire()).toBe(false); // one succeeded, one out: no third probe
    b.record("success");
    expect(b.state).toBe("closed");
    expect(b.stats()).toMatchObject({ requests: 0, failures: 0, consecutiveFailures: 0 });
    expect(transitions.at(-1)).toEqual(["half-open", "closed"]);
    fail(2);
    expect(b.state).toBe("closed"); // the three old failures are gone
  });

  test("with one probe (the default) its success closes the breaker", () => {
    const { b, time, fail } = breaker({ trip: "consecutiveFailures >= 1", openMs: 100 });
    fail();
    time.advance(100);
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false);
    b.record("success");
    expect(b.state).toBe("closed");
  });

  test("a probe's failure re-opens it for another openMs", () => {
    const { b, time, fail, transitions } = breaker({ trip: "consecutiveFailures >= 1", openMs: 100 });
    fail();
    time.advance(100);
    expect(b.tryAcquire()).toBe(true);
    b.record("failure");
    expect(b.state).toBe("open");
    time.advance(99);
    expect(b.tryAcquire()).toBe(false);
    time.advance(1);
    expect(b.tryAcquire()).toBe(true);
    expect(transitions).toEqual([
      ["closed", "open"],
      ["open", "half-open"],
      ["half-open", "open"],
      ["open", "half-open"],
    ]);
  });

  test("release gives a probe slot back without counting", () => {
    const { b, time, fail } = breaker({ trip: "consecutiveFailures >= 1", openMs: 100 });
    fail();
    time.advance(100);
    expect(b.tryAcquire()).toBe(true);
    b.release();
    expect(b.state).toBe("half-open");
    expect(b.tryAcquire()).toBe(true);
  });

  test("an outcome from an earlier generation is ignored: a slow call admitted while closed is no probe", () => {
    const { b, time, fail } = breaker({ trip: "consecutiveFailures >= 1", openMs: 100 });
    expect(b.tryAcquire()).toBe(true);
    const slow = b.generation;
    fail();
    time.advance(100);
    expect(b.tryAcquire()).toBe(true);
    const probe = b.generation;
    b.record("success", slow);
    expect(b.state).toBe("half-open");
    expect(b.tryAcquire()).toBe(false);
    b.record("failure", probe);
    expect(b.state).toBe("open");
  });
});
