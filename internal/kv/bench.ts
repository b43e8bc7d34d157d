// A quick measurement of the state machine: bun internal/kv/bench.ts [keys]
// Prints applies/s for N puts through the log-entry path (decode + apply), get and prefix-range
// latency at N keys against a full scan of the same keys, and snapshot, restore and compaction costs.

import { KvStateMachine, encodeCommand } from "./index.ts";

const n = Number(process.argv[2] ?? 100_000);
const groups = 1000;
const keyOf = (i: number) => `services/svc-${i % groups}/key-${i}`;

function time<T>(fn: () => T): [T, number] {
  const start = performance.now();
  const value = fn();
  return [value, performance.now() - start];
}

function perSecond(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString("en-US")}/s`;
}

const entries = Array.from({ length: n }, (_, i) => encodeCommand({ op: "put", key: keyOf(i), value: `{"timeoutMs":${i}}` }));
const sm = new KvStateMachine();
const [, applyMs] = time(() => {
  for (const entry of entries) sm.apply(entry);
});
console.log(`apply ${n.toLocaleString("en-US")} puts (new keys, encoded entries): ${applyMs.toFixed(0)} ms, ${perSecond(n, applyMs)}`);

const [, updateMs] = time(() => {
  for (let i = 0; i < n; i++) sm.apply({ op: "put", key: keyOf((i * 7919) % n), value: "x", ifModRevision: undefined });
});
console.log(`apply ${n.toLocaleString("en-US")} puts (existing keys, command objects): ${updateMs.toFixed(0)} ms, ${perSecond(n, updateMs)}`);

const lookups = 200_000;
const probe = Array.from({ length: lookups }, (_, i) => keyOf((i * 31) % n));
const [, getMs] = time(() => {
  let found = 0;
  for (const key of probe) if (sm.get(key) !== undefined) found++;
  return found;
});
console.log(`get at ${sm.stats().keys.toLocaleString("en-US")} keys: ${((getMs / lookups) * 1e6).toFixed(0)} ns each`);

const ranges = 2000;
const [items, rangeMs] = time(() => {
  let total = 0;
  for (let i = 0; i < ranges; i++) total += sm.range(`services/svc-${(i * 13) % groups}/`).items.length;
  return total / ranges;
});
// The same answer by scanning every key: what range() must not do.
const all = [...Array(n).keys()].map(keyOf);
const [, scanMs] = time(() => {
  for (let i = 0; i < 50; i++) {
    const prefix = `services/svc-${(i * 13) % groups}/`;
    all.filter((key) => key.startsWith(prefix)).sort();
  }
});
const rangeUs = (rangeMs / ranges) * 1000;
const scanUs = (scanMs / 50) * 1000;
console.log(
  `range of ${items} keys out of ${n.toLocaleString("en-US")}: ${rangeUs.toFixed(1)} µs (full scan: ${scanUs.toFixed(0)} µs, ${(scanUs / rangeUs).toFixed(0)}x slower)`,
);

const [bytes, snapshotMs] = time(() => sm.snapshot());
console.log(`snapshot (${sm.stats().retainedEvents.toLocaleString("en-US")} events retained): ${(bytes.length / 1e6).toFixed(1)} MB in ${snapshotMs.toFixed(0)} ms`);
const restored = new KvStateMachine();
const [, restoreMs] = time(() => restored.restore(bytes));
console.log(`restore: ${restoreMs.toFixed(0)} ms`);

const target = sm.suggestCompaction(1000)!;
const [, compactMs] = time(() => sm.apply({ op: "compact", revision: target }));
console.log(`compact to ${target.toLocaleString("en-US")} (keep 1000 revisions): ${compactMs.toFixed(0)} ms; snapshot after: ${(sm.snapshot().length / 1e6).toFixed(1)} MB`);
