import type { Context } from "hono";
import { z } from "zod";
import { BadRequestError } from "../server/index.ts";
import type { Consistency } from "../store/index.ts";

const consistencySchema = z.enum(["linearizable", "serializable"]);

/** `?consistency=linearizable` (the default) or `serializable` (this member's copy, maybe stale). */
export function consistencyOf(c: Context): Consistency {
  const raw = c.req.query("consistency");
  if (raw === undefined) return "linearizable";
  const parsed = consistencySchema.safeParse(raw);
  if (!parsed.success) {
    throw new BadRequestError("invalid_consistency", `consistency must be linearizable or serializable, got ${JSON.stringify(raw)}`);
  }
  return parsed.data;
}
