// Property test: the state machine against a naive model that keeps every event forever and
// answers every read by scanning. Replay a seed with KV_SEED=<seed> bun test internal/kv/model.test.ts.

import { describe, expect, test } from "bun:test";
import { mulberry32, randomEntries } from "./random-commands.ts";
import {
  CompactedError,
  FutureRevisionError,
  KvStateMachine,
  MalformedCommandError,
  commandProblem,
  decodeCommand,
  type ApplyResult,
  type Command,
  type KeyValue,
  type KvEvent,
} from "./index.ts";

/** The same semantics, written as plainly as possible. */
class NaiveKv {
  revision = 0;
  compactRevision = 0;
  readonly kvs = new Map<string, KeyValue>();
  readonly leases = new Map<string, { ttlSeconds: number; renewals: number }>();
  /** Every event ever, never trimmed. */
  readonly log: KvEvent[] = [];

  apply(entry: Command | Uint8Array): ApplyResult {
    let c: Command;
    if (entry instanceof Uint8Array) {
      try {
        c = decodeCommand(entry);
      } catch (error) {
        return { failed: "malformed", reason: (error as MalformedCommandError).reason };
      }
    } else {
      const problem = commandProblem(entry);
      if (problem !== undefined) return { failed: "malformed", reason: problem };
      c = entry;
    }
    switch (c.op) {
      case "put": {
        const cur = this.kvs.get(c.key);
        if (c.ifModRevision !== undefined && c.ifModRevision !== (cur?.modRevision ?? 0)) {
          return { failed: "compare", currentModRevision: cur?.modRevision ?? 0 };
        }
        if (c.lease !== undefined && !this.leases.has(c.lease)) return { failed: "leaseNotFound", id: c.lease };
        const rev = ++this.revision;
        const kv: KeyValue = {
          key: c.key,
          value: c.value,
          createRevision: cur?.createRevision ?? rev,
          modRevision: rev,
          version: (cur?.version ?? 0) + 1,
          ...(c.lease !== undefined ? { lease: c.lease } : {}),
        };
        this.kvs.set(c.key, kv);
        this.log.push({
          type: "put",
          key: c.key,
          value: c.value,
          revision: rev,
          createRevision: kv.createRevision,
          version: kv.version,
          ...(c.lease !== undefined ? { lease: c.lease } : {}),
          ...(cur !== undefined ? { prevValue: cur.value } : {}),
        });
        return { op: "put", revision: rev };
      }
      case "delete": {
        const cur = this.kvs.get(c.key);
        if (c.ifModRevision !== undefined && c.ifModRevision !== (cur?.modRevision ?? 0)) {
          return { failed: "compare", currentModRevision: cur?.modRevision ?? 0 };
        }
        if (cur === undefined) return { op: "delete", revision: this.revision, deleted: false };
        this.deleteKeys([c.key]);
        return { op: "delete", revision: this.revision, deleted: true };
      }
      case "leaseGrant":
        if (this.leases.has(c.id)) return { failed: "leaseExists", id: c.id };
        this.leases.set(c.id, { ttlSeconds: c.ttlSeconds, renewals: 0 });
        return { op: "leaseGrant", revision: this.revision, id: c.id, ttlSeconds: c.ttlSeconds };
      case "leaseKeepAlive": {
        const lease = this.leases.get(c.id);
        if (lease === undefined) return { failed: "leaseNotFound", id: c.id };
        lease.renewals++;
        return { op: "leaseKeepAlive", revision: this.revision, id: c.id, ttlSeconds: lease.ttlSeconds };
      }
      case "leaseRevoke": {
        if (!this.leases.has(c.id)) return { failed: "leaseNotFound", id: c.id };
        const keys = this.dropLeases([c.id]);
        return { op: "leaseRevoke", revision: this.revision, deletedKeys: keys };
      }
      case "leaseExpire": {
        const expired = [...new Set(c.ids)].filter((id) => this.leases.has(id));
        const keys = this.dropLeases(expired);
        return { op: "leaseExpire", revision: this.revision, expired, deletedKeys: keys };
      }
      case "compact":
        if (c.revision <= this.compactRevision) return { failed: "compacted", compactRevision: this.compactRevision };
        if (c.revision > this.revision) return { failed: "futureRevision", currentRevision: this.revision };
        this.compactRevision = c.revision;
        return { op: "compact", revision: this.revision, compactRevision: c.revision };
    }
  }

  private dropLeases(ids: string[]): string[] {
    const keys = [...this.kvs.values()].filter((kv) => kv.lease !== undefined && ids.includes(kv.lease)).map((kv) => kv.key);
    for (const id of ids) this.leases.delete(id);
    keys.sort();
    if (keys.length > 0) this.deleteKeys(keys);
    return keys;
  }

  private deleteKeys(keys: string[]): void {
    const rev = ++this.revision;
    for (const key of keys) {
      this.log.push({ type: "delete", key, revision: rev, prevValue: this.kvs.get(key)!.value });
      this.kvs.delete(key);
    }
  }

  range(prefix: string): KeyValue[] {
    return [...this.kvs.values()].filter((kv) => kv.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  history(key: string): KvEvent[] {
    const all = this.log.filter((e) => e.key === key);
    const kept = all.filter((e) => e.revision >= this.compactRevision);
    const before = all.filter((e) => e.revision < this.compactRevision).at(-1);
    const changedAtCompaction = kept[0]?.revision === this.compactRevision;
    return before?.type === "put" && !changedAtCompaction ? [before, ...kept] : kept;
  }

  eventsSince(from: number, prefix: string): KvEvent[] | "compacted" | "future" {
    if (from < this.compactRevision) return "compacted";
    if (from > this.revision + 1) return "future";
    return this.log.filter((e) => e.revision >= from && e.key.startsWith(prefix));
  }

  leaseList() {
    return [...this.leases.keys()].sort().map((id) => ({
      id,
      ttlSeconds: this.leases.get(id)!.ttlSeconds,
      keys: this.range("").filter((kv) => kv.lease === id).map((kv) => kv.key),
      renewals: this.leases.get(id)!.renewals,
    }));
  }
}

const SEEDS = process.env.KV_SEED !== undefined ? [Number(process.env.KV_SEED)] : [3, 11, 555, 31337, 8675309];
const PREFIXES = ["", "a", "a/", "a/b", "a/b/", "b/", "c", "svc/", "svc/x-1", "x", "x-1/", "zzz"];
const KEYS = ["a", "b", "c", "svc", "x-1", "a/b", "a/b/c", "svc/a", "svc/svc/x-1", "x-1/x-1", "c/c/c", "b/a"];

function eventsOrError(sm: KvStateMachine, from: number, prefix: string): KvEvent[] | "compacted" | "future" {
  try {
    return sm.eventsSince(from, prefix);
  } catch (error) {
    if (error instanceof CompactedError) return "compacted";
    if (error instanceof FutureRevisionError) return "future";
    throw error;
  }
}

describe("state machine against a naive model", () => {
  for (const seed of SEEDS) {
    test(`get, range, history, events and leases agree over 3000 random entries (seed ${seed})`, () => {
      const random = mulberry32(seed);
      let sm = new KvStateMachine();
      const model = new NaiveKv();
      const next = randomEntries(random, () => model.revision);
      for (let step = 0; step < 3000; step++) {
        const at = `seed ${seed} step ${step}`;
        const entry = next();
        expect(sm.apply(entry), at).toStrictEqual(model.apply(entry));
        expect(sm.currentRevision, at).toBe(model.revision);
        expect(sm.compactRevision, at).toBe(model.compactRevision);

        const prefix = PREFIXES[Math.floor(random() * PREFIXES.length)]!;
        const range = sm.range(prefix);
        expect(range.revision, at).toBe(model.revision);
        expect(range.items, `${at} range ${prefix}`).toStrictEqual(model.range(prefix));
        const key = KEYS[Math.floor(random() * KEYS.length)]!;
        expect(sm.get(key), `${at} get ${key}`).toStrictEqual(model.kvs.get(key));
        expect(sm.history(key), `${at} history ${key}`).toStrictEqual(model.history(key));
        const from = Math.max(0, model.revision - Math.floor(random() * 20) + 1);
        expect(eventsOrError(sm, from, prefix), `${at} eventsSince ${from} ${prefix}`).toStrictEqual(model.eventsSince(from, prefix));
        if (step % 500 === 499) {
          // Continue on a member restored from a snapshot: the restored state must behave the same.
          const restored = new KvStateMachine();
          restored.restore(sm.snapshot());
          sm = restored;
        }
        if (step % 100 === 0) {
          expect(sm.range("").items, at).toStrictEqual(model.range(""));
          expect(sm.leases(), at).toStrictEqual(model.leaseList());
          for (const k of KEYS) expect(sm.history(k), `${at} history ${k}`).toStrictEqual(model.history(k));
        }
      }
      expect(sm.stats().retainedEvents).toBe(model.log.filter((e) => e.revision >= model.compactRevision).length);
    });
  }
});
