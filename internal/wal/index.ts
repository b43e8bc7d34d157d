// The durable storage of one Raft member: a segmented write-ahead log with group commit, snapshot
// files, crash recovery and a directory lock. This file is the surface other folders may import.
//
//   const { wal, state } = await openWal(dataDir, { metadata });   // recover (or create)
//   await wal.save(hardState, entries);                             // durable when it resolves
//   await wal.saveSnapshot(snapshot); await wal.releaseTo(snapshot.metadata.index);
//   await wal.close();

export { openWal, DEFAULT_SEGMENT_BYTES, type WalOptions, type WalState, type WalRepair } from "./open.ts";
export { Wal, type WalStats } from "./wal.ts";
export { loadNewestSnapshot, type LoadSnapshotOptions, type LoadedSnapshot } from "./snapshot-files.ts";
export { nodeFs, type WalFs, type WalFile, type WalLock } from "./file-system.ts";
export { WalClosedError, WalCorruptError, WalLockedError, WalSnapshotMissingError, WalWriteError } from "./errors.ts";
