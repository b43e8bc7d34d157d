// Test support: policies written as an operator would, validated with every default applied.
import { validateResilience, type CircuitBreakerPolicy, type OutlierDetectionPolicy, type ResiliencePolicy, type RetryPolicy } from "../../policy/index.ts";

export const DOMAIN = "execution";

/** A validated policy for DOMAIN from the sections given. */
export function policy(sections: Record<string, unknown>): ResiliencePolicy {
  const result = validateResilience({ target: { domain: DOMAIN }, ...sections });
  if (!result.ok) throw new Error(`invalid test policy: ${result.error.message}`);
  return result.policy;
}

export function breakerPolicy(section: Record<string, unknown>): CircuitBreakerPolicy {
  return policy({ circuitBreaker: section }).circuitBreaker as CircuitBreakerPolicy;
}

export function budgetPolicy(section: Record<string, unknown>): RetryPolicy["budget"] {
  return (policy({ retry: { budget: section } }).retry as RetryPolicy).budget;
}

export function outlierPolicy(section: Record<string, unknown>): OutlierDetectionPolicy {
  return policy({ outlierDetection: section }).outlierDetection as OutlierDetectionPolicy;
}
