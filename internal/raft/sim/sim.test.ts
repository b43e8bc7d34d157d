// Seeded deterministic simulation of 3- and 5-member clusters: 2,000 seeds under chaos, each
// checked for Raft's safety invariants after every step, for convergence after healing, and for
// a linearizable client history. A failure names its seed and the command that replays it.

import { describe, expect, test } from "bun:test";
import { checkKvHistory } from "./kv-linearizability.ts";
import { runSimulation, type SimResult } from "./simulation.ts";

const THREE = 1200;
const FIVE = 800;
const CHUNK = 200;

function replay(seed: number, members: number): string {
  return `bun internal/raft/sim/cli.ts --seeds 1 --start ${seed} --members ${members} --verbose`;
}

function problems(r: SimResult): string | null {
  if (!r.ok) return `seed ${r.seed} (${r.members} members): ${r.error}\n  replay: ${replay(r.seed, r.members)}`;
  const lin = checkKvHistory(r.history);
  if (lin.ok === false) {
    return `seed ${r.seed} (${r.members} members): history not linearizable for key ${lin.key}\n  replay: ${replay(r.seed, r.members)} --history`;
  }
  return null;
}

function runChunk(members: 3 | 5, start: number, count: number): void {
  const failures: string[] = [];
  for (let seed = start; seed < start + count; seed++) {
    const p = problems(runSimulation({ seed, members }));
    if (p !== null) failures.push(p);
  }
  expect(failures).toEqual([]);
}

describe("raft simulation", () => {
  for (let start = 1; start <= THREE; start += CHUNK) {
    test(`3 members, seeds ${start}..${start + CHUNK - 1}`, () => runChunk(3, start, CHUNK), 120_000);
  }
  for (let start = 1; start <= FIVE; start += CHUNK) {
    test(`5 members, seeds ${start}..${start + CHUNK - 1}`, () => runChunk(5, start, CHUNK), 120_000);
  }

  test("the same seed gives the same trace and history", () => {
    for (const [seed, members] of [[7, 3], [42, 5], [1234, 3]] as const) {
      const a = runSimulation({ seed, members });
      const b = runSimulation({ seed, members });
      expect(b.traceHash).toBe(a.traceHash);
      expect(b.history).toEqual(a.history);
      expect(b.stats).toEqual(a.stats);
    }
    expect(runSimulation({ seed: 8, members: 3 }).traceHash).not.toBe(runSimulation({ seed: 9, members: 3 }).traceHash);
  });

  test("the history has the checker's shape: unique written values, unknown writes open-ended", () => {
    let unknownWrites = 0;
    for (let seed = 1; seed <= 50; seed++) {
      const r = runSimulation({ seed, members: 3 });
      const values = new Set<string>();
      for (const op of r.history) {
        expect(typeof op.clientId).toBe("number");
        expect(op.call).toBeLessThan(op.return);
        if (op.input.kind === "put" || op.input.kind === "cas") {
          expect(values.has(op.input.value)).toBe(false);
          values.add(op.input.value);
          expect(op.input.value).toMatch(/^c\d+-\d+$/);
        }
        if (op.return === Infinity) {
          expect(op.output).toBeUndefined();
          expect(op.input.kind).not.toBe("get");
          unknownWrites++;
        } else if (op.input.kind === "get") {
          expect(op.output).toHaveProperty("value");
        } else if (op.input.kind === "cas") {
          expect(typeof (op.output as { ok: boolean }).ok).toBe("boolean");
        } else {
          expect(op.output).toEqual({});
        }
      }
    }
    expect(unknownWrites).toBeGreaterThan(0);
  });

  test("the chaos actually happens: crashes, partitions, snapshots, membership changes, elections", () => {
    const totals = { crashes: 0, snapshotsSent: 0, confChanges: 0, elections: 0, tornWrites: 0, acknowledgedWrites: 0 };
    for (let seed = 1; seed <= 200; seed++) {
      const s = runSimulation({ seed, members: seed % 2 === 0 ? 5 : 3 }).stats;
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += s[k];
    }
    expect(totals.crashes).toBeGreaterThan(100);
    expect(totals.snapshotsSent).toBeGreaterThan(20);
    expect(totals.confChanges).toBeGreaterThan(100);
    expect(totals.elections).toBeGreaterThan(400);
    expect(totals.acknowledgedWrites).toBeGreaterThan(2000);
  });
});
