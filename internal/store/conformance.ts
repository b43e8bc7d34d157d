// The behaviour every Store must have, as one suite that each backend's test file runs against a
// real instance of that backend (a real etcd, a real Raft member). Semantics follow etcd's, since
// users of --store etcd will compare the two.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  CompactedError,
  FutureRevisionError,
  InvalidKeyError,
  LeaseNotFoundError,
  PreconditionFailedError,
} from "./errors.ts";
import type { Store, WatchEvent } from "./types.ts";

export interface StoreUnderTest {
  readonly store: Store;
  cleanup(): Promise<void>;
}

/** Collects watch events and lets a test wait for a number of them. */
function collector() {
  const events: WatchEvent[] = [];
  const batches: number[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  return {
    events,
    batches,
    handlers: {
      onEvents(batch: readonly WatchEvent[]) {
        events.push(...batch);
        batches.push(batch.length);
        if (waiter && events.length >= waiter.count) waiter.resolve();
      },
      onError(error: Error) {
        throw error;
      },
    },
    async waitFor(count: number, timeoutMs = 10_000): Promise<WatchEvent[]> {
      if (events.length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`expected ${count} watch events, got ${events.length}`)),
            timeoutMs,
          );
          waiter = {
            count,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          };
        });
      }
      return events.slice(0, count);
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the promise to reject");
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

/**
 * Registers the conformance suite for one backend. `open` starts a fresh, empty store (the
 * backend is started once per suite by the caller); keys are namespaced per test anyway.
 */
export function storeConformance(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`Store conformance: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: Store;
    let n = 0;
    /** A fresh key prefix per test, so tests never see each other's keys. */
    const ns = () => `t${++n}`;

    beforeAll(async () => {
      subject = await open();
      store = subject.store;
    }, 60_000);
    afterAll(async () => {
      await subject?.cleanup();
    });

    test("get of an absent key answers undefined", async () => {
      expect(await store.get(`${ns()}/absent`)).toBeUndefined();
    });

    test("put answers the revision; get shows createRevision, modRevision and version", async () => {
      const key = `${ns()}/k`;
      const first = await store.put(key, '"one"');
      expect(await store.get(key)).toEqual({
        key,
        value: '"one"',
        createRevision: first.revision,
        modRevision: first.revision,
        version: 1,
      });
      const second = await store.put(key, '"two"');
      expect(second.revision).toBeGreaterThan(first.revision);
      expect(await store.get(key, "serializable")).toMatchObject({
        value: '"two"',
        createRevision: first.revision,
        modRevision: second.revision,
        version: 2,
      });
    });

    test("revisions increase strictly across keys", async () => {
      const p = ns();
      const revisions: number[] = [];
      for (let i = 0; i < 5; i++) revisions.push((await store.put(`${p}/k${i % 2}`, String(i))).revision);
      for (let i = 1; i < revisions.length; i++) expect(revisions[i]!).toBeGreaterThan(revisions[i - 1]!);
    });

    test("compare-and-set: matches, mismatches, create-only", async () => {
      const key = `${ns()}/cas`;
      const created = await store.put(key, "1", { ifModRevision: 0 });
      const again = await rejection(store.put(key, "x", { ifModRevision: 0 }));
      expect(again).toBeInstanceOf(PreconditionFailedError);
      expect((again as PreconditionFailedError).actual).toBe(created.revision);

      const updated = await store.put(key, "2", { ifModRevision: created.revision });
      const stale = await rejection(store.put(key, "3", { ifModRevision: created.revision }));
      expect(stale).toBeInstanceOf(PreconditionFailedError);
      expect(stale as PreconditionFailedError).toMatchObject({ key, expected: created.revision, actual: updated.revision });
      expect((await store.get(key))?.value).toBe("2");

      const absent = await rejection(store.put(`${key}-absent`, "1", { ifModRevision: 5 }));
      expect((absent as PreconditionFailedError).actual).toBe(0);
    });

    test("concurrent compare-and-set on one revision: exactly one wins", async () => {
      const key = `${ns()}/race`;
      const { revision } = await store.put(key, "start");
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => store.put(key, `w${i}`, { ifModRevision: revision })),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(PreconditionFailedError);
    });

    test("delete: present, absent, with If-Match, and recreation resets the version", async () => {
      const key = `${ns()}/d`;
      const put = await store.put(key, "1");
      const mismatch = await rejection(store.delete(key, { ifModRevision: put.revision + 100 }));
      expect(mismatch).toBeInstanceOf(PreconditionFailedError);
      const deleted = await store.delete(key, { ifModRevision: put.revision });
      expect(deleted.deleted).toBe(true);
      expect(deleted.revision).toBeGreaterThan(put.revision);
      expect(await store.get(key)).toBeUndefined();
      expect((await store.delete(key)).deleted).toBe(false);
      const recreated = await store.put(key, "2");
      expect(await store.get(key)).toMatchObject({ version: 1, createRevision: recreated.revision });
    });

    test("list answers the keys under a prefix, sorted, with the revision read at", async () => {
      const p = ns();
      await store.put(`${p}/b`, "2");
      await store.put(`${p}/a/x`, "1");
      const last = await store.put(`${p}/c`, "3");
      await store.put(`${p}x/other`, "no");
      const listed = await store.list(`${p}/`);
      expect(listed.items.map((item) => item.key)).toEqual([`${p}/a/x`, `${p}/b`, `${p}/c`]);
      expect(listed.revision).toBeGreaterThanOrEqual(last.revision);
      expect((await store.list(`${p}/`, "serializable")).items).toHaveLength(3);
      expect((await store.list(`${p}/nothing/`)).items).toEqual([]);
    });

    test("history lists puts and deletes of one key, oldest first", async () => {
      const key = `${ns()}/h`;
      const r1 = (await store.put(key, "1")).revision;
      await store.put(`${key}x`, "other key");
      const r2 = (await store.put(key, "2")).revision;
      const r3 = (await store.delete(key)).revision;
      const r4 = (await store.put(key, "3")).revision;
      expect(await store.history(key)).toEqual([
        { type: "put", key, value: "1", revision: r1 },
        { type: "put", key, value: "2", revision: r2 },
        { type: "delete", key, revision: r3 },
        { type: "put", key, value: "3", revision: r4 },
      ]);
      expect(await store.history(`${key}-never`)).toEqual([]);
    });

    test("watch from now delivers puts and deletes under the prefix in order; cancel stops it", async () => {
      const p = ns();
      const seen = collector();
      const watch = await store.watch(`${p}/`, undefined, seen.handlers);
      const r1 = (await store.put(`${p}/a`, "1")).revision;
      await store.put(`${p}-outside`, "x");
      const r2 = (await store.delete(`${p}/a`)).revision;
      expect(await seen.waitFor(2)).toEqual([
        { type: "put", key: `${p}/a`, value: "1", revision: r1 },
        { type: "delete", key: `${p}/a`, revision: r2 },
      ]);
      await watch.cancel();
      await store.put(`${p}/b`, "after cancel");
      await Bun.sleep(200);
      expect(seen.events).toHaveLength(2);
    });

    test("watch from a past revision replays, then follows", async () => {
      const p = ns();
      const r1 = (await store.put(`${p}/a`, "1")).revision;
      await store.put(`${p}/b`, "2");
      const seen = collector();
      const watch = await store.watch(`${p}/`, r1, seen.handlers);
      await store.put(`${p}/c`, "3");
      const events = await seen.waitFor(3);
      expect(events.map((e) => e.key)).toEqual([`${p}/a`, `${p}/b`, `${p}/c`]);
      await watch.cancel();
    });

    test("watch from a revision in the future is refused; the next revision is accepted", async () => {
      const current = (await store.put(`${ns()}/now`, "x")).revision;
      const error = await rejection(store.watch("", current + 5, collector().handlers));
      expect(error).toBeInstanceOf(FutureRevisionError);
      expect(error as FutureRevisionError).toMatchObject({ requested: current + 5 });
      const watch = await store.watch("", current + 1, collector().handlers);
      await watch.cancel();
    });

    test("compaction: an older watch start is refused with the oldest revision; history starts there", async () => {
      const key = `${ns()}/c`;
      const r1 = (await store.put(key, "1")).revision;
      const r2 = (await store.put(key, "2")).revision;
      const r3 = (await store.put(key, "3")).revision;
      await store.compact(r2);
      const error = await rejection(store.watch(key, r1, collector().handlers));
      expect(error).toBeInstanceOf(CompactedError);
      expect(error as CompactedError).toMatchObject({ requested: r1, oldest: r2 });
      const seen = collector();
      const watch = await store.watch(key, r2, seen.handlers);
      expect((await seen.waitFor(2)).map((e) => e.revision)).toEqual([r2, r3]);
      await watch.cancel();
      const history = await store.history(key);
      expect(history.map((e) => e.revision)).toEqual([r2, r3]);
      expect((await store.get(key))?.value).toBe("3");
    });

    test("a revoked lease deletes its keys, seen by watchers", async () => {
      const p = ns();
      const lease = await store.grantLease(30);
      await store.put(`${p}/a`, "1", { lease });
      await store.put(`${p}/b`, "2", { lease });
      expect((await store.get(`${p}/a`))?.lease).toBe(lease);
      expect(await store.keepAlive(lease)).toBeGreaterThan(0);
      const seen = collector();
      const watch = await store.watch(`${p}/`, undefined, seen.handlers);
      await store.revokeLease(lease);
      const events = await seen.waitFor(2);
      expect(events.map((e) => [e.type, e.key]).sort()).toEqual([
        ["delete", `${p}/a`],
        ["delete", `${p}/b`],
      ]);
      expect(events[0]!.revision).toBe(events[1]!.revision);
      expect(await store.get(`${p}/a`)).toBeUndefined();
      await watch.cancel();
      expect(await rejection(store.keepAlive(lease))).toBeInstanceOf(LeaseNotFoundError);
    });

    test("a lease that is not kept alive expires and takes its keys", async () => {
      const key = `${ns()}/ephemeral`;
      const lease = await store.grantLease(1);
      await store.put(key, "1", { lease });
      await eventually(async () => ((await store.get(key)) === undefined ? true : undefined), 15_000, "lease expiry");
      expect(await rejection(store.keepAlive(lease))).toBeInstanceOf(LeaseNotFoundError);
    }, 20_000);

    test("invalid keys are refused before they reach the backend", async () => {
      for (const key of ["", "/lead", "trail/", "a//b", "a/../b", "sp ace", "x".repeat(513)]) {
        expect(await rejection(store.put(key, "1"))).toBeInstanceOf(InvalidKeyError);
      }
    });

    test("a healthy store is ready", async () => {
      await eventually(async () => (store.notReadyReason() === undefined ? true : undefined), 10_000, "readiness");
    });

    test("status names the kind and the revision", async () => {
      const { revision } = await store.put(`${ns()}/s`, "1");
      const status = await store.status();
      expect(status.kind).toBe(store.kind);
      expect(status.revision).toBeGreaterThanOrEqual(revision);
      expect(status.members.length).toBeGreaterThanOrEqual(1);
      expect(status.leader).not.toBeNull();
    });
  });
}
