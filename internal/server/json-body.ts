import type { Context } from "hono";
import type { parseDocument as ParseDocument } from "yaml";
import type { z } from "zod";
import { BadRequestError, HttpError } from "./errors.ts";

/**
 * Reads a JSON request body and validates it against a schema. Every failure is a 400 (or 415)
 * whose message says what is wrong and where: not JSON (with the parser's reason), a field of the
 * wrong type or missing (with its path), an unknown field (strict schemas). The size limit has
 * already been enforced by the body-limit layer, so the text is bounded here. With `allowEmpty`,
 * an empty body stands for `{}`; with `yaml`, a body sent as application/yaml is read as YAML.
 */
export async function readJson<S extends z.ZodType>(
  c: Context,
  schema: S,
  options: { allowEmpty?: boolean; yaml?: boolean } = {},
): Promise<z.output<S>> {
  const type = c.req.header("content-type");
  const yaml = options.yaml === true && type !== undefined && YAML_TYPE.test(type);
  // JSON types, no type, or curl's default for -d (x-www-form-urlencoded): the body is parsed as
  // JSON either way. Anything else says it is not JSON.
  if (type !== undefined && !yaml && !JSON_TYPE.test(type)) {
    const expected = options.yaml ? "application/json or application/yaml" : "application/json";
    throw new HttpError(415, "unsupported_media_type", `expected Content-Type ${expected}, got ${type}`);
  }
  const text = await c.req.text();
  const value = text.trim() === "" ? emptyBody(options.allowEmpty === true) : parseBody(text, yaml);
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new BadRequestError("invalid_body", describeIssue(result.error.issues[0]));
  }
  return result.data;
}

const JSON_TYPE = /^application\/(([\w.+-]*\+)?json|x-www-form-urlencoded)\b/i;
const YAML_TYPE = /^(application|text)\/(x-)?yaml\b/i;

function emptyBody(allowEmpty: boolean): unknown {
  if (!allowEmpty) throw new BadRequestError("malformed_json", "request body is empty; expected JSON");
  return {};
}

function parseBody(text: string, yaml: boolean): unknown {
  if (yaml) {
    // Loaded on the first YAML body: only the control plane's policy routes accept one.
    const { parseDocument } = require("yaml") as { parseDocument: typeof ParseDocument };
    const document = parseDocument(text, { prettyErrors: false });
    const [error] = document.errors;
    if (error) throw new BadRequestError("malformed_yaml", `request body is not valid YAML: ${error.message}`, { cause: error });
    return document.toJS() as unknown;
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new BadRequestError("malformed_json", `request body is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
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
