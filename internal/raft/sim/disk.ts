// A simulated disk holding one member's write-ahead log: writes land in an unsynced buffer and
// become durable only on fsync. A crash keeps the durable state plus, possibly, a prefix of the
// unsynced writes, the last of which may be torn (only a prefix of its entries survives).

import { MemoryStorage } from "../storage.ts";
import type { ConfState, Entry, HardState, Snapshot } from "../types.ts";
import type { Rng } from "./random.ts";

export type DiskWrite =
  | { readonly kind: "snapshot"; readonly snapshot: Snapshot }
  | { readonly kind: "entries"; readonly entries: readonly Entry[] }
  | { readonly kind: "hardState"; readonly hardState: HardState }
  | {
      readonly kind: "localSnapshot";
      readonly index: number;
      readonly confState: ConfState;
      readonly data: Uint8Array;
      readonly compactTo: number;
    };

/** Applies one write to a MemoryStorage, the same way to the durable copy and the mirror. */
export function applyWrite(s: MemoryStorage, w: DiskWrite): void {
  switch (w.kind) {
    case "snapshot":
      if (w.snapshot.metadata.index > s.snapshot().metadata.index) s.applySnapshot(w.snapshot);
      return;
    case "entries":
      s.append(w.entries);
      return;
    case "hardState":
      s.setHardState(w.hardState);
      return;
    case "localSnapshot":
      if (w.index > s.snapshot().metadata.index && w.index <= s.lastIndex() && w.index >= s.firstIndex() - 1) {
        s.createSnapshot(w.index, w.confState, w.data);
        s.compact(w.compactTo);
      }
      return;
  }
}

/** A copy of a MemoryStorage's contents (snapshot, entries after it, hard state). */
export function cloneStorage(src: MemoryStorage): MemoryStorage {
  const out = new MemoryStorage();
  const snap = src.snapshot();
  if (snap.metadata.index > 0) out.applySnapshot(snap);
  const lo = Math.max(src.firstIndex(), snap.metadata.index + 1);
  if (lo <= src.lastIndex()) out.append(src.entries(lo, src.lastIndex() + 1, Infinity));
  out.setHardState(src.getHardState());
  return out;
}

export class SimDisk {
  readonly durable = new MemoryStorage();
  private unsynced: DiskWrite[] = [];
  syncs = 0;

  write(w: DiskWrite): void {
    this.unsynced.push(w);
  }

  get dirty(): boolean {
    return this.unsynced.length > 0;
  }

  fsync(): void {
    for (const w of this.unsynced) applyWrite(this.durable, w);
    this.unsynced = [];
    this.syncs++;
  }

  /** Loses the unsynced writes, except a random prefix (the last one possibly torn). */
  crash(rng: Rng): { kept: number; torn: boolean } {
    const writes = this.unsynced;
    this.unsynced = [];
    if (writes.length === 0 || rng.chance(0.5)) return { kept: 0, torn: false };
    const kept = rng.int(writes.length + 1);
    for (let i = 0; i < kept; i++) applyWrite(this.durable, writes[i]!);
    const next = writes[kept];
    if (next !== undefined && next.kind === "entries" && next.entries.length > 1 && rng.chance(0.5)) {
      applyWrite(this.durable, { kind: "entries", entries: next.entries.slice(0, rng.int(next.entries.length)) });
      return { kept, torn: true };
    }
    return { kept, torn: false };
  }

  /** The storage a restarted member reads: a copy of the durable state. */
  load(): MemoryStorage {
    return cloneStorage(this.durable);
  }
}
