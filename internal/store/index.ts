export type {
  ClusterAdmin,
  Consistency,
  DeleteOptions,
  KeyValue,
  ListResult,
  MemberStatus,
  PutOptions,
  Store,
  StoreStatus,
  Watch,
  WatchEvent,
  WatchHandlers,
} from "./types.ts";
export {
  CompactedError,
  FutureRevisionError,
  InvalidKeyError,
  LeaseNotFoundError,
  MemberExistsError,
  MembershipChangeError,
  NotSupportedError,
  PreconditionFailedError,
  UnknownMemberError,
  StoreUnavailableError,
} from "./errors.ts";
export { validateKey, validatePrefix, MAX_KEY_BYTES } from "./keys.ts";
export { createEtcdStore, type EtcdStoreOptions } from "./etcd-store.ts";
export { followPrefix, PrefixMirror, type Follower, type FollowHandlers, type FollowOptions } from "./follow.ts";
