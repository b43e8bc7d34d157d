// The retry budget: the per-second floor, the ratio of original calls, and its window.
import { describe, expect, test } from "bun:test";
import { FakeTime } from "./fake-time.ts";
import { RetryBudget } from "./retry-budget.ts";
import { budgetPolicy } from "./test-policies.ts";

function take(budget: RetryBudget, n: number): number {
  let granted = 0;
  for (let i = 0; i < n; i++) if (budget.tryRetry()) granted++;
  return granted;
}

describe("RetryBudget", () => {
  test("allows the per-second minimum over the window, then the ratio of original calls, and refuses beyond", () => {
    const time = new FakeTime();
    const budget = new RetryBudget(budgetPolicy({ ratio: 0.2, minRetriesPerSecond: 1, windowMs: 10_000 }), { clock: time });
    expect(take(budget, 20)).toBe(10); // 1/s × 10 s
    expect(budget.canRetry()).toBe(false);
    for (let i = 0; i < 50; i++) budget.recordRequest();
    expect(budget.canRetry()).toBe(true);
    expect(budget.retriesInWindow).toBe(10); // canRetry consumed nothing
    expect(take(budget, 20)).toBe(10); // 0.2 × 50
    expect(budget.retriesInWindow).toBe(20);
    expect(budget.requestsInWindow).toBe(50);
  });

  test("a fractional allowance rounds up to the next whole retry", () => {
    const time = new FakeTime();
    const budget = new RetryBudget(budgetPolicy({ ratio: 0.25, minRetriesPerSecond: 0, windowMs: 1000 }), { clock: time });
    for (let i = 0; i < 5; i++) budget.recordRequest(); // 1.25 allowed: 0 < 1.25, 1 < 1.25
    expect(take(budget, 5)).toBe(2);
  });

  test("ratio 0 and no minimum allows nothing", () => {
    const budget = new RetryBudget(budgetPolicy({ ratio: 0, minRetriesPerSecond: 0 }), { clock: new FakeTime() });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(budget.tryRetry()).toBe(false);
  });

  test("the window forgets old calls and retries", () => {
    const time = new FakeTime();
    const budget = new RetryBudget(budgetPolicy({ ratio: 1, minRetriesPerSecond: 0, windowMs: 1000 }), { clock: time });
    for (let i = 0; i < 3; i++) budget.recordRequest();
    expect(take(budget, 5)).toBe(3);
    time.advance(1000);
    expect(budget.retriesInWindow).toBe(0);
    expect(budget.tryRetry()).toBe(false); // the calls are forgotten too
    budget.recordRequest();
    expect(take(budget, 5)).toBe(1);
  });
});
