// Value types shared by every binary's options. Each schema accepts the raw text of a flag or an
// environment variable as well as the typed value a YAML file may hold, so one schema validates
// all three sources the same way.
import { z } from "zod";

/** A listening address, parsed once at start. Port 0 asks the OS for a free port. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** One control-plane member as given by --peers / CLUSTER_PEERS. */
export interface Peer {
  readonly id: string;
  readonly url: string;
}

/** Splits a comma-separated flag or environment value; YAML lists pass through untouched. */
function splitList(raw: unknown): unknown {
  if (typeof raw !== "string") return raw;
  return raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** A non-empty string. */
export function text() {
  return z.string({ error: "expected a string" }).min(1, { error: "expected a non-empty string" });
}

/** An integer within [min, max]; flags and environment variables give it as decimal text. */
export function integer(min: number, max: number) {
  return z.preprocess(
    (raw) => (typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw),
    z
      .number({ error: `expected an integer from ${min} to ${max}` })
      .int({ error: `expected an integer from ${min} to ${max}` })
      .min(min, { error: `expected an integer from ${min} to ${max}` })
      .max(max, { error: `expected an integer from ${min} to ${max}` }),
  );
}

/** A number within [min, max], fractions allowed; flags and environment variables give it as text. */
export function fraction(min: number, max: number) {
  const expected = `expected a number from ${min} to ${max}`;
  return z.preprocess(
    (raw) => (typeof raw === "string" && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw.trim()) : raw),
    z.number({ error: expected }).min(min, { error: expected }).max(max, { error: expected }),
  );
}

/** true/false, also 1/0, yes/no and on/off as text. */
export function boolean() {
  const truthy = new Set(["true", "1", "yes", "on"]);
  const falsy = new Set(["false", "0", "no", "off"]);
  return z.preprocess(
    (raw) => {
      if (typeof raw !== "string") return raw;
      const word = raw.trim().toLowerCase();
      if (truthy.has(word)) return true;
      if (falsy.has(word)) return false;
      return raw;
    },
    z.boolean({ error: "expected true or false" }),
  );
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration written the way Go and Kubernetes users write it ("500ms", "10s", "2m"), held in
 * milliseconds. A bare number in YAML is taken as seconds.
 */
export function duration() {
  const expected = 'expected a duration such as "500ms", "10s" or "2m"';
  return z.preprocess(
    (raw) => {
      if (typeof raw === "number") return Number.isFinite(raw) && raw >= 0 ? raw * 1000 : raw;
      if (typeof raw !== "string") return raw;
      const match = DURATION.exec(raw.trim());
      if (!match) return raw;
      return Number(match[1]) * (UNIT_MS[match[2] ?? "ms"] ?? 1);
    },
    z.number({ error: expected }).nonnegative({ error: expected }),
  );
}

/** An http(s) URL without a trailing slash, so callers can append paths. */
export function httpUrl() {
  return z
    .string({ error: "expected an http:// or https:// URL" })
    .trim()
    .refine(isHttpUrl, { error: "expected an http:// or https:// URL" })
    .transform((url) => url.replace(/\/+$/, ""));
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname.length > 0;
  } catch {
    return false;
  }
}

/** A redis:// or rediss:// URL. */
export function redisUrl() {
  return z
    .string({ error: "expected a redis:// or rediss:// URL" })
    .trim()
    .refine(
      (value) => {
        try {
          const url = new URL(value);
          return url.protocol === "redis:" || url.protocol === "rediss:";
        } catch {
          return false;
        }
      },
      { error: "expected a redis:// or rediss:// URL" },
    );
}

/** A list of http(s) URLs: comma-separated text or a YAML list. */
export function urlList() {
  return z.preprocess(
    splitList,
    z.array(httpUrl(), { error: "expected a comma-separated list of http(s) URLs" }),
  );
}

/** A list of names such as business domains (lower case letters, digits, '-' and '_'). */
export function nameList() {
  const expected = "expected a comma-separated list of names (a-z, 0-9, '-', '_')";
  return z.preprocess(
    splitList,
    z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, { error: expected }), { error: expected }),
  );
}

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d+)$/;

/**
 * HOST:PORT, [IPv6]:PORT or :PORT (all interfaces). Parsed into host and port here so that the
 * rest of the program never splits strings.
 */
export function listenAddress() {
  const expected = "expected HOST:PORT with a port from 0 to 65535";
  return z
    .string({ error: expected })
    .trim()
    .transform((value, ctx): ListenAddress => {
      const match = HOST_PORT.exec(value);
      const port = match ? Number(match[3]) : Number.NaN;
      if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
        ctx.addIssue({ code: "custom", message: expected });
        return z.NEVER;
      }
      const host = match[1] ?? match[2] ?? "";
      return { host: host === "" ? "0.0.0.0" : host, port };
    });
}

const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Control-plane members: `id=URL,...`, every member with its advertised URL, its own included.
 * A bare id, as in the seed's compose file, means `http://ID:8080`.
 */
export function peerList() {
  const expected = "expected a comma-separated list of ID=URL (or bare IDs meaning http://ID:8080)";
  return z.preprocess(
    splitList,
    z
      .array(z.string({ error: expected }), { error: expected })
      .transform((items, ctx): Peer[] => {
        const peers: Peer[] = [];
        for (const item of items) {
          const eq = item.indexOf("=");
          const id = (eq < 0 ? item : item.slice(0, eq)).trim();
          const url = eq < 0 ? `http://${id}:8080` : item.slice(eq + 1).trim();
          if (!MEMBER_ID.test(id) || !isHttpUrl(url)) {
            ctx.addIssue({ code: "custom", message: `${expected}; "${item}" is not` });
            return z.NEVER;
          }
          if (peers.some((peer) => peer.id === id)) {
            ctx.addIssue({ code: "custom", message: `member id "${id}" is listed twice` });
            return z.NEVER;
          }
          peers.push({ id, url: url.replace(/\/+$/, "") });
        }
        return peers;
      }),
  );
}

/** A member or node id. */
export function nodeId() {
  return z
    .string({ error: "expected an id (letters, digits, '.', '_', '-')" })
    .regex(MEMBER_ID, { error: "expected an id (letters, digits, '.', '_', '-')" });
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** One of a fixed set of words. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(", ")}` });
}

/** The critical metrics whose thresholds --thresholds may set (the aggregator's; see docs/aggregator.md). */
export const CRITICAL_METRIC_NAMES = [
  "control_plane_availability",
  "config_sync_latency",
  "cross_node_latency",
  "network_partition_duration",
  "request_success_rate",
  "circuit_breaker_open_count",
] as const;

export type CriticalMetricName = (typeof CRITICAL_METRIC_NAMES)[number];

/**
 * Threshold overrides: "name=value,..." on the command line or a mapping in YAML, each name one of
 * the critical metrics, each value a number in the metric's unit (seconds, a ratio, a count); a
 * duration such as "50ms" is read as seconds.
 */
export function thresholds() {
  const expected = `expected name=value,... with names among ${CRITICAL_METRIC_NAMES.join(", ")}`;
  const value = (raw: unknown): unknown => {
    if (typeof raw === "number") return raw;
    if (typeof raw !== "string") return raw;
    const text = raw.trim();
    const match = DURATION.exec(text);
    if (match) return (Number(match[1]) * (UNIT_MS[match[2] ?? "ms"] ?? 1)) / 1000;
    return text === "" ? raw : Number(text);
  };
  return z.preprocess(
    (raw) => {
      if (typeof raw === "string") {
        const out: Record<string, unknown> = {};
        for (const part of raw.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
          const eq = part.indexOf("=");
          if (eq <= 0) return raw;
          out[part.slice(0, eq).trim()] = value(part.slice(eq + 1));
        }
        return out;
      }
      if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
        return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, value(v)]));
      }
      return raw;
    },
    z.partialRecord(z.enum(CRITICAL_METRIC_NAMES, { error: expected }), z.number({ error: expected }).refine(Number.isFinite, { error: "expected a finite number" }), { error: expected }),
  );
}
