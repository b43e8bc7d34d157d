// The fallback answers that are responses: a static response compiled once from the policy, and a
// cached snapshot replayed. (The domain fallback is routed by the caller.)
import { Fields, type HttpResponse } from "../../http1/index.ts";
import type { FallbackPolicy } from "../../policy/index.ts";
import type { ResponseSnapshot } from "./last-good-responses.ts";

export const FALLBACK_HEADER = "x-nagent-fallback";

type StaticFallbackPolicy = Extract<FallbackPolicy, { type: "static" }>;

// Statuses that may not carry a body.
const NULL_BODY_STATUS: ReadonlySet<number> = new Set([204, 205, 304]);

/**
 * Compiles a static fallback into a function that builds its answer: the body is encoded once,
 * as JSON unless it is a string and the policy sets content-type (then the string as it is), and
 * the headers list is fixed, with `x-nagent-fallback: static`. A 204, 205 or 304 has no body.
 */
export function compileStaticFallback(policy: StaticFallbackPolicy): () => HttpResponse {
  const headers: [string, string][] = Object.entries(policy.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]);
  const hasContentType = headers.some(([name]) => name === "content-type");
  let body: Uint8Array | null = null;
  if (policy.body !== undefined && !NULL_BODY_STATUS.has(policy.status)) {
    const raw = typeof policy.body === "string" && hasContentType;
    body = new TextEncoder().encode(raw ? (policy.body as string) : JSON.stringify(policy.body));
    if (!hasContentType) headers.push(["content-type", "application/json"]);
  }
  headers.push([FALLBACK_HEADER, "static"]);
  const fields = Fields.from(headers).list;
  const status = policy.status;
  // A new Fields per answer: the caller may add to it.
  return () => ({ status, headers: new Fields(fields.slice()), body });
}

/** A cached snapshot as an answer, with `x-nagent-fallback: cache` and its age in seconds. */
export function cachedResponse(snapshot: ResponseSnapshot, now: number): HttpResponse {
  const headers = new Fields(snapshot.headers.flat());
  headers.set(FALLBACK_HEADER, "cache");
  headers.set("age", String(Math.max(0, Math.floor((now - snapshot.storedAt) / 1000))));
  return { status: snapshot.status, headers, body: NULL_BODY_STATUS.has(snapshot.status) ? null : snapshot.body };
}
