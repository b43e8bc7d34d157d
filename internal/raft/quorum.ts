// Majority arithmetic over a set of voters: the commit index, election results and quorum checks.
// Learners never appear here: they neither vote nor count for commitment.

import type { NodeId } from "./types.ts";

export type VoteResult = "won" | "lost" | "pending";

/** The size of a majority of n voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index that a majority of voters has in its log: the majority-th largest match
 * index. `matchOf` gives a voter's match index (undefined counts as 0). 0 for no voters.
 */
export function committedIndex(
  voters: ReadonlySet<NodeId>,
  matchOf: (id: NodeId) => number | undefined,
): number {
  const n = voters.size;
  if (n === 0) return 0;
  const matches: number[] = [];
  for (const id of voters) matches.push(matchOf(id) ?? 0);
  matches.sort((a, b) => b - a);
  return matches[majority(n) - 1] ?? 0;
}

/** Election outcome: won with a majority of grants, lost once a majority can no longer be reached. */
export function voteResult(
  voters: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const n = voters.size;
  if (n === 0) return "won";
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = majority(n);
  if (granted >= q) return "won";
  if (n - rejected < q) return "lost";
  return "pending";
}

/** True if the voters for which `yes` holds form a majority. */
export function hasQuorum(voters: ReadonlySet<NodeId>, yes: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const id of voters) if (yes(id)) count++;
  return voters.size > 0 && count >= majority(voters.size);
}
