// Resource use of a process from /proc (Linux): resident memory and CPU time, for
// scripts/bench/watch.ts. Both count every thread of the process.
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/PID/stat times (`getconf CLK_TCK`; 100 on Linux x86 and arm). */
const CLK_TCK = 100;

/** Resident set size in MiB (VmRSS of /proc/PID/status); NaN if the process is gone. */
export function rssMiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** User plus system CPU seconds the process has used so far (utime + stime of /proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** The soft limit on open files of this process (Bun raises it to the hard limit at start). */
export function openFilesLimit(): number {
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return !match || match[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** Samples the RSS of `pids` every `intervalMs` until stopped; answers each pid's peak. */
export function sampleRssPeaks(pids: readonly number[], intervalMs: number): { stop(): number[] } {
  const peaks = pids.map(rssMiB);
  const timer = setInterval(() => {
    for (const [i, pid] of pids.entries()) peaks[i] = Math.max(peaks[i]!, rssMiB(pid));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      for (const [i, pid] of pids.entries()) peaks[i] = Math.max(peaks[i]!, rssMiB(pid));
      return peaks;
    },
  };
}
