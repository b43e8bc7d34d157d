import { readdirSync, readFileSync } from "node:fs";

/**
 * Whether `pid` is a running process. Unlike `kill(pid, 0)` this treats zombies as dead: where
 * PID 1 reaps orphans lazily (as in many containers), a killed service lingers as a zombie for a
 * while, and leak checks must not mistake that for a survivor. Linux only (reads /proc).
 */
export function isProcessAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** Pids of running (non-zombie) processes in process group `pgid`. */
export function livePidsInGroup(pgid: number): number[] {
  return allPids().filter((pid) => {
    const stat = readStat(pid);
    return stat !== undefined && stat.state !== "Z" && stat.pgrp === pgid;
  });
}

/**
 * Pids of running processes whose command line contains `text`, other than this process. Tests use
 * it with a service's unique temp dir to prove that nothing started for them is still running.
 */
export function livePidsMentioning(text: string): number[] {
  return allPids().filter((pid) => pid !== process.pid && isProcessAlive(pid) && readCmdline(pid).includes(text));
}

interface ProcStat {
  state: string;
  pgrp: number;
}

function readStat(pid: number): ProcStat | undefined {
  let line: string;
  try {
    line = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name is parenthesised and may itself contain spaces or parentheses.
  const fields = line.slice(line.lastIndexOf(")") + 2).split(" ");
  const [state, , pgrp] = fields;
  if (state === undefined || pgrp === undefined) return undefined;
  return { state, pgrp: Number(pgrp) };
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

function allPids(): number[] {
  try {
    return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number);
  } catch {
    return [];
  }
}
