import { describe, expect, test } from "bun:test";
import {
  CompactedError,
  ConflictError,
  ForbiddenError,
  InvalidRequestError,
  NagentError,
  NotFoundError,
  PreconditionFailedError,
  UnauthenticatedError,
  UnavailableError,
  errorFromResponse,
} from "./errors.ts";

const body = (code: string, extra: Record<string, unknown> = {}) => ({ error: { code, message: `m ${code}`, ...extra } });

describe("errorFromResponse", () => {
  test("each status the API uses has its class, with the body's details", () => {
    const cases: [number, new (...args: never[]) => NagentError][] = [
      [400, InvalidRequestError],
      [401, UnauthenticatedError],
      [403, ForbiddenError],
      [404, NotFoundError],
      [409, ConflictError],
      [410, CompactedError],
      [412, PreconditionFailedError],
    ];
    for (const [status, type] of cases) {
      const error = errorFromResponse(status, body("c", { extra: 1 }), "http://e");
      expect(error).toBeInstanceOf(type);
      expect(error).toBeInstanceOf(NagentError);
      expect(error).toMatchObject({ status, code: "c", message: "m c", endpoint: "http://e", details: { extra: 1 } });
    }
  });

  test("typed fields: path, modRevision, oldestRevision", () => {
    expect((errorFromResponse(400, body("invalid_policy", { path: "retry.maxAttempts" }), "e") as InvalidRequestError).path).toBe("retry.maxAttempts");
    expect((errorFromResponse(400, body("invalid_body"), "e") as InvalidRequestError).path).toBeUndefined();
    expect((errorFromResponse(412, body("precondition_failed", { modRevision: 9 }), "e") as PreconditionFailedError).modRevision).toBe(9);
    expect((errorFromResponse(410, body("compacted", { oldestRevision: 4 }), "e") as CompactedError).oldestRevision).toBe(4);
  });

  test("a body that is not the JSON error shape still gives a useful message", () => {
    const error = errorFromResponse(502, "<html>Bad Gateway</html>", "http://e");
    expect(error).toMatchObject({ status: 502, code: "http_502", message: "<html>Bad Gateway</html>" });
    expect(errorFromResponse(500, undefined, "e").message).toBe("HTTP 500");
  });

  test("UnavailableError lists every endpoint's failure", () => {
    const error = new UnavailableError([
      { endpoint: "http://a", reason: "connection refused" },
      { endpoint: "http://b", reason: "503 starting: waiting", status: 503 },
    ]);
    expect(error.message).toBe("no control-plane endpoint answered (http://a: connection refused; http://b: 503 starting: waiting)");
    expect(error.failures).toHaveLength(2);
    expect(error.code).toBe("unavailable");
  });
});
