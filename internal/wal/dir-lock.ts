// The WAL directory lock: flock(2) on dir/LOCK, taken without waiting.
//
// flock rather than an O_EXCL lock file because the kernel drops a flock when its holder dies,
// however it dies: a crashed member restarts without anyone deleting a stale lock file, and a
// recycled pid (every container's first process is pid 1) cannot make a dead holder look alive.
// Node has no flock, so it is called through bun:ffi. Locks are per open file, so a second open of
// the same directory conflicts even inside one process. The holder writes its pid into the file,
// for the error message only.

import { dlopen, FFIType } from "bun:ffi";
import * as fs from "node:fs";
import { dirname } from "node:path";
import { WalLockedError } from "./errors.ts";
import type { WalLock } from "./file-system.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;

type Flock = (fd: number, operation: number) => number;
let flock: Flock | undefined;

function loadFlock(): Flock {
  if (flock !== undefined) return flock;
  const candidates = process.platform === "darwin" ? ["libSystem.B.dylib", "libc.dylib"] : ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1"];
  for (const name of candidates) {
    try {
      const lib = dlopen(name, { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
      const fn = lib.symbols.flock;
      flock = (fd, op) => fn(fd, op);
      return flock;
    } catch {
      // try the next name
    }
  }
  throw new Error(`cannot lock the WAL directory: flock(2) is not available through bun:ffi on ${process.platform}`);
}

/** Takes the lock on `path` (created if missing) or throws WalLockedError at once. */
export function lockDirectory(path: string): WalLock {
  const lock = loadFlock();
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  if (lock(fd, LOCK_EX | LOCK_NB) !== 0) {
    let holder: number | undefined;
    try {
      const text = fs.readFileSync(fd, "utf8").trim();
      holder = /^\d+$/.test(text) ? Number(text) : undefined;
    } finally {
      fs.closeSync(fd);
    }
    throw new WalLockedError(dirname(path), holder);
  }
  const pid = `${process.pid}\n`;
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, pid, 0);
  let released = false;
  return {
    release() {
      if (!released) {
        released = true;
        fs.closeSync(fd); // closing the only descriptor of this open file drops the flock
      }
      return Promise.resolve();
    },
  };
}
