// What a sidecar registers, validated once at the API edge. Domain names are the business
// domains of the seed (communication, execution, coordination, state, core) or any other name.
import { z } from "zod";
import { domainName } from "../policy/index.ts";

/** Node ids: one key segment, so a node id is always a valid part of a store key. */
export const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const DEFAULT_TTL_SECONDS = 10;
/** A node that has not heartbeat for ttl + this many ttls is removed. */
export const DEFAULT_REMOVE_AFTER_TTLS = 3;

const httpUrl = z
  .string()
  .refine((text) => {
    try {
      const url = new URL(text);
      return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
    } catch {
      return false;
    }
  }, { error: "expected an http:// or https:// URL" });

export const registrationSchema = z.strictObject({
  address: httpUrl,
  domains: z
    .array(domainName())
    .max(32)
    .refine((domains) => new Set(domains).size === domains.length, { error: "each domain may be listed once" }),
  metadata: z
    .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/, { error: "metadata keys are letters, digits, '.', '_', '/' or '-'" }), z.string().max(1024))
    .refine((metadata) => Object.keys(metadata).length <= 64, { error: "at most 64 metadata entries" })
    .default({}),
  ttlSeconds: z.number().int().min(1).max(3600).default(DEFAULT_TTL_SECONDS),
  removeAfterSeconds: z.number().int().min(1).max(7 * 86_400).optional(),
});
export type RegistrationInput = z.input<typeof registrationSchema>;

/** A registration with its defaults applied. */
export interface Registration {
  readonly address: string;
  readonly domains: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly ttlSeconds: number;
  readonly removeAfterSeconds: number;
}

export function normalizeRegistration(input: z.output<typeof registrationSchema>): Registration {
  return { ...input, removeAfterSeconds: input.removeAfterSeconds ?? DEFAULT_REMOVE_AFTER_TTLS * input.ttlSeconds };
}

export const heartbeatSchema = z.strictObject({
  configRevision: z.number().int().nonnegative().optional(),
  configAppliedAt: z.iso.datetime().optional(),
});
export type HeartbeatReport = z.output<typeof heartbeatSchema>;
