// A WalFs for tests: it passes every call to a real one, and on command counts fsyncs, holds them
// in flight, fails a write part-way (ENOSPC, EIO) and "crashes" (drops every handle and lock
// without syncing) while remembering how much of each file had been synced.

import { nodeFs, type WalFile, type WalFs, type WalLock } from "./file-system.ts";

export type FaultOp = "write" | "datasync" | "sync" | "truncate" | "rename" | "create" | "unlink";

export interface Fault {
  readonly op: FaultOp;
  /** errno code of the thrown error. */
  readonly code: string;
  /** For "write": how many bytes of the data reach the file before the error. Default 0. */
  readonly afterBytes?: number;
  /** Only calls on a path containing this string; default any. */
  readonly pathIncludes?: string;
}

export function errnoError(code: string, op: string): Error {
  return Object.assign(new Error(`${code}: injected failure, ${op}`), { code });
}

class FaultyFile implements WalFile {
  /** Where the file is now: a rename moves it. */
  current: string;
  /** End of the furthest write, and its value at the last successful sync. */
  written = 0;
  synced = 0;
  closed = false;

  constructor(
    private readonly owner: FaultyFs,
    private readonly inner: WalFile,
  ) {
    this.current = inner.path;
  }

  get path(): string {
    return this.inner.path;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.owner.counts.write++;
    const fault = this.owner.take("write", this.current);
    if (fault !== undefined) {
      const k = Math.min(fault.afterBytes ?? 0, data.length);
      if (k > 0) await this.inner.write(data.subarray(0, k), position);
      this.written = Math.max(this.written, position + k);
      throw errnoError(fault.code, `write ${this.current}`);
    }
    await this.inner.write(data, position);
    this.written = Math.max(this.written, position + data.length);
  }

  async datasync(): Promise<void> {
    this.owner.counts.datasync++;
    await this.owner.gate();
    this.owner.throwIf("datasync", this.current);
    const upTo = this.written;
    await this.inner.datasync();
    this.synced = upTo;
  }

  async sync(): Promise<void> {
    this.owner.counts.sync++;
    this.owner.throwIf("sync", this.current);
    const upTo = this.written;
    await this.inner.sync();
    this.synced = upTo;
  }

  async truncate(length: number): Promise<void> {
    this.owner.throwIf("truncate", this.current);
    await this.inner.truncate(length);
    this.written = Math.min(this.written, length);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.inner.close();
  }
}

export class FaultyFs implements WalFs {
  readonly counts = { write: 0, datasync: 0, sync: 0 };
  private readonly faults: Fault[] = [];
  private readonly files: FaultyFile[] = [];
  private readonly locks: WalLock[] = [];
  private held: { release: () => void; promise: Promise<void> } | undefined;
  private waiters: (() => void)[] = [];
  /** datasync calls currently held by holdSyncs(). */
  syncsWaiting = 0;

  constructor(private readonly inner: WalFs = nodeFs) {}

  /** The next call of `fault.op` (on a matching path) fails; faults are used once, in order. */
  failNext(fault: Fault): void {
    this.faults.push(fault);
  }

  /** From now on every datasync waits, counted in syncsWaiting, until releaseSyncs(). */
  holdSyncs(): void {
    if (this.held !== undefined) return;
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.held = { release, promise };
  }

  releaseSyncs(): void {
    const held = this.held;
    this.held = undefined;
    held?.release();
  }

  /** Resolves once `n` datasync calls are waiting on holdSyncs(). */
  syncsHeld(n = 1): Promise<void> {
    if (this.syncsWaiting >= n) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.syncsWaiting >= n) resolve();
        else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Bytes of `path` covered by its last successful sync. */
  syncedLength(path: string): number {
    const file = this.files.findLast((f) => f.current === path);
    if (file === undefined) throw new Error(`no file was written at ${path}`);
    return file.synced;
  }

  /** The process dies: every handle and lock is dropped without a sync. Held syncs never complete. */
  async crash(): Promise<void> {
    for (const f of this.files) await f.close();
    for (const l of this.locks) await l.release();
  }

  /** @internal */
  async gate(): Promise<void> {
    const held = this.held;
    if (held === undefined) return;
    this.syncsWaiting++;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
    await held.promise;
    this.syncsWaiting--;
  }

  /** @internal */
  take(op: FaultOp, path: string): Fault | undefined {
    const i = this.faults.findIndex((f) => f.op === op && (f.pathIncludes === undefined || path.includes(f.pathIncludes)));
    if (i < 0) return undefined;
    return this.faults.splice(i, 1)[0];
  }

  /** @internal */
  throwIf(op: FaultOp, path: string): void {
    const fault = this.take(op, path);
    if (fault !== undefined) throw errnoError(fault.code, `${op} ${path}`);
  }

  mkdirp(path: string): Promise<void> {
    return this.inner.mkdirp(path);
  }

  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.inner.readFile(path);
  }

  async create(path: string): Promise<WalFile> {
    this.throwIf("create", path);
    const file = new FaultyFile(this, await this.inner.create(path));
    this.files.push(file);
    return file;
  }

  async open(path: string): Promise<WalFile> {
    const file = new FaultyFile(this, await this.inner.open(path));
    this.files.push(file);
    return file;
  }

  async rename(from: string, to: string): Promise<void> {
    this.throwIf("rename", from);
    await this.inner.rename(from, to);
    for (const f of this.files) if (f.current === from) f.current = to;
  }

  async unlink(path: string): Promise<void> {
    this.throwIf("unlink", path);
    await this.inner.unlink(path);
  }

  syncDir(dir: string): Promise<void> {
    return this.inner.syncDir(dir);
  }

  async lock(path: string): Promise<WalLock> {
    const lock = await this.inner.lock(path);
    this.locks.push(lock);
    return lock;
  }
}
