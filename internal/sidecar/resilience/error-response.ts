// The JSON answers the sidecar gives when a call fails and no fallback applies:
// {"error":{"code","message","attempts":[{"instance","outcome","status"?}]}}. Built only on the
// failure path.
import { Fields, type HttpResponse } from "../../http1/index.ts";

/** How one attempt ended, as listed in an error body. */
export type AttemptOutcomeLabel = "response" | "connect" | "reset" | "timeout" | "no_instance" | "cancelled";

export interface AttemptRecord {
  /** The instance tried, null when the attempt function did not say. */
  readonly instance: string | null;
  readonly outcome: AttemptOutcomeLabel;
  /** The status of a response. */
  readonly status?: number;
}

export type ResilienceErrorCode = "circuit_open" | "no_healthy_instance" | "timeout" | "upstream_failed" | "cancelled";

/** 499 is nginx's "client closed request": nobody reads it, but logs and metrics do. */
export const ERROR_STATUS: Readonly<Record<ResilienceErrorCode, number>> = {
  circuit_open: 503,
  no_healthy_instance: 503,
  timeout: 504,
  upstream_failed: 502,
  cancelled: 499,
};

const encoder = new TextEncoder();

/** A JSON error response with the status that `code` maps to. */
export function errorResponse(code: ResilienceErrorCode, message: string, attempts: readonly AttemptRecord[]): HttpResponse {
  return {
    status: ERROR_STATUS[code],
    headers: new Fields(["content-type", "application/json"]),
    body: encoder.encode(JSON.stringify({ error: { code, message, attempts } })),
  };
}

/** "2 attempts: #1 reset by a; #2 503 from b". */
export function describeAttempts(attempts: readonly AttemptRecord[]): string {
  if (attempts.length === 0) return "no attempt was made";
  const parts = attempts.map((a, i) => `#${i + 1} ${describeAttempt(a)}`);
  return `${attempts.length} ${attempts.length === 1 ? "attempt" : "attempts"}: ${parts.join("; ")}`;
}

function describeAttempt(a: AttemptRecord): string {
  const where = (preposition: string) => (a.instance === null ? "" : ` ${preposition} ${a.instance}`);
  switch (a.outcome) {
    case "response":
      return `${a.status}${where("from")}`;
    case "connect":
      return `connect failure${where("to")}`;
    case "reset":
      return `reset${where("by")}`;
    case "timeout":
      return `timed out${where("on")}`;
    case "no_instance":
      return "no instance to send to";
    case "cancelled":
      return `cancelled${where("on")}`;
  }
}
