// Seeded random command streams for the determinism and model tests (not part of index.ts).

import { encodeUnchecked } from "./codec.ts";
import type { Command } from "./types.ts";

export { seededRandom as mulberry32 } from "../testing/seeded-random.ts";

export interface RandomCommandOptions {
  /** Share of entries that are malformed bytes instead of commands (default 0.03). */
  readonly malformed?: number;
}

/**
 * An endless stream of log entries: mostly valid commands over a small key and lease universe (so
 * that keys collide, CAS sometimes holds, leases get keys), some with failing preconditions, and a
 * few malformed byte strings. Revisions used in CAS and compact are drawn near `revision()`.
 */
export function randomEntries(
  random: () => number,
  revision: () => number,
  options: RandomCommandOptions = {},
): () => Command | Uint8Array {
  const malformedShare = options.malformed ?? 0.03;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const segments = ["a", "b", "c", "svc", "x-1"];
  const key = () => {
    const depth = 1 + Math.floor(random() * 3);
    const parts: string[] = [];
    for (let i = 0; i < depth; i++) parts.push(pick(segments));
    return parts.join("/");
  };
  const lease = () => `l${Math.floor(random() * 6)}`;
  const values = ["", "1", '{"timeout":50}', "ünïcødé ✓", "\uFEFFbom", "x".repeat(300)];
  const nearRevision = () => Math.max(0, revision() - Math.floor(random() * 8));

  return () => {
    const r = random();
    if (r < malformedShare) return malformedEntry(random);
    const roll = random();
    if (roll < 0.45) {
      const command: Command = {
        op: "put",
        key: key(),
        value: pick(values) + String(Math.floor(random() * 100)),
        ...(random() < 0.25 ? { lease: lease() } : {}),
        ...(random() < 0.2 ? { ifModRevision: random() < 0.3 ? 0 : nearRevision() } : {}),
      };
      return command;
    }
    if (roll < 0.65) {
      return { op: "delete", key: key(), ...(random() < 0.2 ? { ifModRevision: nearRevision() } : {}) };
    }
    if (roll < 0.75) return { op: "leaseGrant", id: lease(), ttlSeconds: 1 + Math.floor(random() * 60) };
    if (roll < 0.8) return { op: "leaseRevoke", id: lease() };
    if (roll < 0.87) return { op: "leaseKeepAlive", id: lease() };
    if (roll < 0.93) return { op: "leaseExpire", ids: [lease(), lease()].slice(0, 1 + Math.floor(random() * 2)) };
    return { op: "compact", revision: nearRevision() + (random() < 0.1 ? 5 : 0) };
  };
}

function malformedEntry(random: () => number): Uint8Array {
  const kind = Math.floor(random() * 6);
  switch (kind) {
    case 0:
      return new Uint8Array(0);
    case 1: // a bad key through the real encoder
      return encodeUnchecked({ op: "put", key: "/leading/slash", value: "v" });
    case 2: // truncated
      return encodeUnchecked({ op: "put", key: "a/b", value: "value" }).subarray(0, 5);
    case 3: // unknown op
      return Uint8Array.of(1, 99, 0);
    case 4: // trailing garbage
      return Uint8Array.of(...encodeUnchecked({ op: "delete", key: "a" }), 7);
    default: {
      const bytes = new Uint8Array(1 + Math.floor(random() * 20));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
      return bytes;
    }
  }
}
