// The membership as a function of the log (Raft thesis §4.1): every member uses the newest
// configuration found in its log, committed or not. This keeps the history of configurations set
// by confChange entries after the base (the snapshot's membership), so that a truncated suffix
// can take its configurations with it and the driver can ask for the membership as of an index.

import { applyToMembership, tryDecodeConfChange } from "./conf-change.ts";
import type { ConfState, Entry } from "./types.ts";

interface Versioned {
  /** The index of the entry that set this configuration (the snapshot index for the base). */
  readonly index: number;
  readonly cs: ConfState;
}

/** Applies a conf change entry's change to a membership (no change if malformed or invalid). */
export function nextConfState(cs: ConfState, e: Entry): ConfState {
  const cc = tryDecodeConfChange(e.data);
  if (cc === undefined) return cs;
  const voters = new Set(cs.voters);
  const learners = new Set(cs.learners);
  if (!applyToMembership(cc, voters, learners)) return cs;
  return { voters: [...voters], learners: [...learners] };
}

export class MembershipLog {
  private list: Versioned[];

  constructor(index: number, cs: ConfState) {
    this.list = [{ index, cs }];
  }

  private last(): Versioned {
    return this.list[this.list.length - 1]!;
  }

  /** The configuration in force: the newest in the log. */
  current(): ConfState {
    return this.last().cs;
  }

  /** The index of the entry that set the current configuration (0 or the base's index if none). */
  currentIndex(): number {
    return this.last().index;
  }

  /** The membership as of log index `index` (the newest configuration set at or before it). */
  at(index: number): ConfState {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const v = this.list[i]!;
      if (v.index <= index) return v.cs;
    }
    return this.list[0]!.cs;
  }

  /** A snapshot replaced the log. */
  reset(index: number, cs: ConfState): void {
    this.list = [{ index, cs }];
  }

  /** Entries from index `from` on were removed from the log: forget what they configured. */
  truncateFrom(from: number): void {
    while (this.list.length > 1 && this.last().index >= from) this.list.pop();
  }

  /** New entries reached the log; returns true if the configuration changed. */
  append(ents: readonly Entry[]): boolean {
    let changed = false;
    for (const e of ents) {
      if (e.type !== "confChange") continue;
      this.list.push({ index: e.index, cs: nextConfState(this.current(), e) });
      changed = true;
    }
    return changed;
  }

  /** Forgets configurations older than the newest one at or before `index` (it can no longer be asked for). */
  compactTo(index: number): void {
    let keep = 0;
    for (let i = 1; i < this.list.length; i++) if (this.list[i]!.index <= index) keep = i;
    if (keep > 0) this.list = this.list.slice(keep);
  }
}
