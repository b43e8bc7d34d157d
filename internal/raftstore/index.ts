export { openRaftStore, RaftStore, type RaftStoreOptions } from "./raft-store.ts";
export { Transport, type MessageCodec, type TransportOptions } from "./transport.ts";
export { BACKUP_MAGIC, BACKUP_VERSION, BackupFormatError, decodeBackup, encodeBackup, type BackupMember, type BackupMetadata, type DecodedBackup } from "./backup.ts";
export { hasMemberState, restoreDataDir, RestoreRefusedError, type RestoreOptions, type RestoreResult } from "./restore.ts";
export { syncDirectory } from "./cluster-identity.ts";
