export { openRaftStore, RaftStore, type RaftStoreOptions } from "./raft-store.ts";
export { Transport, type MessageCodec, type TransportOptions } from "./transport.ts";
