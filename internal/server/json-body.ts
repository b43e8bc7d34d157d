import type { Context } from "hono";
import type { z } from "zod";
import { BadRequestError, HttpError } from "./errors.ts";

/**
 * Reads a JSON request body and validates it against a schema. Every failure is a 400 (or 415)
 * whose message says what is wrong and where: not JSON (with the parser's reason), a field of the
 * wrong type or missing (with its path), an unknown field (strict schemas). The size limit has
 * already been enforced by the body-limit layer, so the text is bounded here.
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = c.req.header("content-type");
  // JSON types, no type, or curl's default for -d (x-www-form-urlencoded): the body is parsed as
  // JSON either way. Anything else says it is not JSON.
  if (type !== undefined && !/^application\/(([\w.+-]*\+)?json|x-www-form-urlencoded)\b/i.test(type)) {
    throw new HttpError(415, "unsupported_media_type", `expected Content-Type application/json, got ${type}`);
  }
  const text = await c.req.text();
  if (text.trim() === "") throw new BadRequestError("malformed_json", "request body is empty; expected JSON");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError("malformed_json", `request body is not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new BadRequestError("invalid_body", describeIssue(result.error.issues[0]));
  }
  return result.data;
}

type Issue = z.ZodError["issues"][number];

/** One readable sentence for the first problem, naming the field by its JSON path. */
export function describeIssue(issue: Issue | undefined): string {
  if (!issue) return "invalid request body";
  const path = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("");
  const where = path === "" ? "body" : `field ${path.replace(/^\./, "")}`;
  if (issue.code === "unrecognized_keys") {
    const keys = (issue as { keys: string[] }).keys;
    const prefix = path === "" ? "" : `${path.replace(/^\./, "")}.`;
    return `unknown field ${keys.map((key) => `${prefix}${key}`).join(", ")}`;
  }
  return `${where}: ${issue.message}`;
}
