import { describe, expect, test } from "bun:test";
import { ForbiddenError, InvalidRequestError, NagentError, NotFoundError, UnauthenticatedError, UnavailableError } from "../control-plane/errors.ts";
import { CircuitOpenError, InvokeError, NoHealthyInstanceError, SidecarUnavailableError, TimeoutError, UpstreamFailedError, invokeErrorFromResponse } from "./errors.ts";

const attempts = [
  { instance: "node-b", outcome: "response", status: 500 },
  { instance: "node-c", outcome: "reset" },
];
const body = (code: string, extra: Record<string, unknown> = {}) => ({ error: { code, message: `m ${code}`, ...extra } });

describe("invokeErrorFromResponse", () => {
  test("the sidecar's resilience answers have their classes, with the attempts", () => {
    const cases: [number, string, new (...args: never[]) => InvokeError][] = [
      [502, "upstream_failed", UpstreamFailedError],
      [502, "app_unavailable", UpstreamFailedError],
      [503, "circuit_open", CircuitOpenError],
      [503, "no_healthy_instance", NoHealthyInstanceError],
      [504, "timeout", TimeoutError],
    ];
    for (const [status, code, type] of cases) {
      const error = invokeErrorFromResponse(status, body(code, { attempts }), "http://sidecar");
      expect(error).toBeInstanceOf(type);
      expect(error).toBeInstanceOf(InvokeError);
      expect(error).toBeInstanceOf(NagentError);
      expect(error).toMatchObject({ status, code, message: `m ${code}`, endpoint: "http://sidecar", attempts, name: type.name });
    }
  });

  test("other answers get the control-plane client's classes, with the body's fields", () => {
    const unauthenticated = invokeErrorFromResponse(401, body("unauthenticated", { reason: "expired" }), "e");
    expect(unauthenticated).toBeInstanceOf(UnauthenticatedError);
    expect(unauthenticated.details).toEqual({ reason: "expired" });
    const forbidden = invokeErrorFromResponse(403, body("forbidden", { policy: "agents-only" }), "e");
    expect(forbidden).toBeInstanceOf(ForbiddenError);
    expect(forbidden.details.policy).toBe("agents-only");
    expect(invokeErrorFromResponse(400, body("invalid_domain"), "e")).toBeInstanceOf(InvalidRequestError);
    expect(invokeErrorFromResponse(404, body("unknown_domain"), "e")).toBeInstanceOf(NotFoundError);
    // A 503 the sidecar gives for other reasons, or an app's own: a NagentError with the status.
    const auth = invokeErrorFromResponse(503, body("auth_unavailable"), "e");
    expect(auth.constructor).toBe(NagentError);
    expect(auth).toMatchObject({ status: 503, code: "auth_unavailable" });
  });

  test("a body that is not the JSON error (an app's own page) still gives the status's class", () => {
    const error = invokeErrorFromResponse(502, "<html>bad gateway</html>", "e");
    expect(error).toBeInstanceOf(UpstreamFailedError);
    expect(error).toMatchObject({ code: "http_502", message: "<html>bad gateway</html>", attempts: [] });
    const teapot = invokeErrorFromResponse(418, undefined, "e");
    expect(teapot).toMatchObject({ status: 418, code: "http_418", message: "HTTP 418" });
  });

  test("malformed attempts are left out rather than trusted", () => {
    const error = invokeErrorFromResponse(502, body("upstream_failed", { attempts: [1, null, { outcome: "timeout", instance: "a" }] }), "e") as InvokeError;
    expect(error.attempts).toEqual([{ outcome: "timeout", instance: "a" }]);
  });
});

test("SidecarUnavailableError is an UnavailableError naming the sidecar and the reason", () => {
  const error = new SidecarUnavailableError("http://127.0.0.1:15001", "connection refused");
  expect(error).toBeInstanceOf(UnavailableError);
  expect(error).toMatchObject({
    name: "SidecarUnavailableError",
    status: 503,
    code: "unavailable",
    endpoint: "http://127.0.0.1:15001",
    message: "the sidecar at http://127.0.0.1:15001 did not answer (connection refused)",
    failures: [{ endpoint: "http://127.0.0.1:15001", reason: "connection refused" }],
  });
});
