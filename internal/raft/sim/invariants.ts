// Safety properties checked while a simulation runs (Raft paper Figure 3, plus durability):
// election safety, log matching, leader completeness, state machine safety, a member's durable
// commit index never going back, and no acknowledged write lost. Each check is incremental so it
// can run after every step.

import type { Raft } from "../raft.ts";
import type { Entry, NodeId } from "../types.ts";

export class InvariantViolation extends Error {
  override name = "InvariantViolation";
}

/** FNV-1a over an entry's type and data. */
export function entryHash(e: Entry): number {
  let h = e.type === "normal" ? 0x811c9dc5 : 0x01000193;
  const d = e.data;
  for (let i = 0; i < d.length; i++) {
    h ^= d[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function bytesHash(d: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < d.length; i++) {
    h ^= d[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

interface EntryFact {
  readonly hash: number;
  readonly prevTerm: number;
}

export class Invariants {
  /** Election safety: the one leader of each term, ever. */
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Log matching: for (index, term) the entry's content and its predecessor's term. */
  private readonly entryFacts = new Map<number, Map<number, EntryFact>>();
  /** State machine safety: what was applied at each index (by anyone). */
  readonly applied = new Map<number, { term: number; hash: number }>();
  maxApplied = 0;
  /** State hashes at snapshot indexes. */
  private readonly stateAt = new Map<number, number>();
  private readonly durableCommit = new Map<NodeId, number>();
  checks = 0;

  private fail(msg: string): never {
    throw new InvariantViolation(msg);
  }

  /** Called after every step with each live member's core. */
  observeLeader(r: Raft): void {
    this.checks++;
    if (r.role !== "leader") return;
    const known = this.leaderOfTerm.get(r.term);
    if (known === undefined) {
      this.leaderOfTerm.set(r.term, r.id);
      this.checkLeaderCompleteness(r);
    } else if (known !== r.id) {
      this.fail(`election safety: two leaders in term ${r.term}: ${known} and ${r.id}`);
    }
  }

  /** Leader completeness: a new leader's log holds every entry applied anywhere. */
  private checkLeaderCompleteness(r: Raft): void {
    const log = r.log;
    if (log.lastIndex() < this.maxApplied) {
      this.fail(
        `leader completeness: ${r.id} leads term ${r.term} with last index ${log.lastIndex()} < applied ${this.maxApplied}`,
      );
    }
    const from = log.firstIndex();
    for (let i = from; i <= this.maxApplied; i++) {
      const a = this.applied.get(i);
      if (a === undefined) continue;
      const t = log.term(i);
      if (t !== a.term) {
        this.fail(`leader completeness: ${r.id} (term ${r.term}) has term ${t} at ${i}, committed term ${a.term}`);
      }
    }
  }

  /** Log matching: entries just persisted by `id`, with the term of the entry before each. */
  observePersisted(id: NodeId, entries: readonly Entry[], termOf: (i: number) => number | undefined): void {
    for (const e of entries) {
      const prevTerm = e.index <= 1 ? 0 : termOf(e.index - 1);
      if (prevTerm === undefined) continue;
      let byTerm = this.entryFacts.get(e.index);
      if (byTerm === undefined) {
        byTerm = new Map();
        this.entryFacts.set(e.index, byTerm);
      }
      const fact = byTerm.get(e.term);
      const hash = entryHash(e);
      if (fact === undefined) {
        byTerm.set(e.term, { hash, prevTerm });
      } else if (fact.hash !== hash || fact.prevTerm !== prevTerm) {
        this.fail(
          `log matching: ${id} has a different entry at index ${e.index} term ${e.term} (prev term ${prevTerm} vs ${fact.prevTerm})`,
        );
      }
    }
  }

  /** State machine safety: no two members apply different entries at one index. */
  observeApplied(id: NodeId, e: Entry): void {
    const hash = entryHash(e);
    const a = this.applied.get(e.index);
    if (a === undefined) {
      this.applied.set(e.index, { term: e.term, hash });
      if (e.index > this.maxApplied) this.maxApplied = e.index;
    } else if (a.term !== e.term || a.hash !== hash) {
      this.fail(`state machine safety: ${id} applied term ${e.term} at ${e.index}, another member applied term ${a.term}`);
    }
  }

  /** Equal state machines at equal indexes (checked where snapshots are taken or installed). */
  observeStateAt(id: NodeId, index: number, hash: number): void {
    const h = this.stateAt.get(index);
    if (h === undefined) this.stateAt.set(index, hash);
    else if (h !== hash) this.fail(`state machine safety: ${id} has a different state at index ${index}`);
  }

  /** The commit index in a member's durable hard state never goes back (fsyncs and restarts). */
  observeDurableCommit(id: NodeId, commit: number, when: string): void {
    const prev = this.durableCommit.get(id) ?? 0;
    if (commit < prev) this.fail(`durable commit of ${id} went back from ${prev} to ${commit} (${when})`);
    this.durableCommit.set(id, commit);
  }

  leaderTerms(): number {
    return this.leaderOfTerm.size;
  }
}
