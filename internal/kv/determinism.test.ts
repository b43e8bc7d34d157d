// Every member must reach the same state from the same log. Seeded random streams (replay one
// with KV_SEED=<seed> bun test internal/kv/determinism.test.ts).

import { describe, expect, test } from "bun:test";
import { randomEntries, mulberry32 } from "./random-commands.ts";
import { KvStateMachine, encodeCommand, type ApplyResult, type Command } from "./index.ts";

const SEEDS = process.env.KV_SEED !== undefined ? [Number(process.env.KV_SEED)] : [1, 7, 2024, 99991];
const STEPS = 1000;

function toBytes(entry: Command | Uint8Array): Uint8Array {
  return entry instanceof Uint8Array ? entry : encodeCommand(entry);
}

describe("determinism", () => {
  for (const seed of SEEDS) {
    test(`two members applying the same ${STEPS} random entries agree byte for byte (seed ${seed})`, () => {
      const a = new KvStateMachine();
      const b = new KvStateMachine();
      const next = randomEntries(mulberry32(seed), () => a.currentRevision);
      const eventsA: unknown[] = [];
      const eventsB: unknown[] = [];
      a.subscribe((events) => eventsA.push(events));
      b.subscribe((events) => eventsB.push(events));
      let restored: KvStateMachine | undefined;
      const failures = new Map<string, number>();
      for (let step = 0; step < STEPS; step++) {
        const entry = next();
        // One member applies the log entry's bytes, the other the command object.
        const ra: ApplyResult = a.apply(toBytes(entry));
        const rb: ApplyResult = b.apply(entry);
        expect(rb, `seed ${seed} step ${step}`).toStrictEqual(ra);
        if ("failed" in ra) failures.set(ra.failed, (failures.get(ra.failed) ?? 0) + 1);
        restored?.apply(toBytes(entry));
        // A third member joins halfway through from a snapshot.
        if (step === STEPS / 2) {
          restored = new KvStateMachine();
          restored.restore(a.snapshot());
        }
      }
      const snapshot = a.snapshot();
      expect(b.snapshot(), `seed ${seed}`).toEqual(snapshot);
      expect(restored!.snapshot(), `seed ${seed}`).toEqual(snapshot);
      expect(eventsB).toStrictEqual(eventsA);
      // The stream really exercised the interesting paths.
      expect(a.currentRevision).toBeGreaterThan(200);
      for (const kind of ["compare", "malformed", "leaseNotFound", "leaseExists", "compacted"]) {
        expect(failures.get(kind) ?? 0, `seed ${seed}: ${kind} failures`).toBeGreaterThan(0);
      }
    });
  }
});
