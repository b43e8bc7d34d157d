// The snapshot format: the whole state machine as bytes, canonical (everything in sorted or log
// order), so that members with equal state produce equal bytes.
//
//   "NKVS" [format=1]
//   revision compactRevision
//   leaseCount  { id ttlSeconds renewals }               sorted by id
//   keyCount    { key value createRevision modRevision version flags(1=lease) [lease] }   sorted by key
//   carriedCount { event }                                sorted by key
//   eventCount  { event }                                 in log order
//   crc32 of everything before it (4 bytes, big-endian)
//
//   event = type(1=put, 2=delete) flags(1=prevValue, 2=lease) key revision
//           put: value createRevision version [lease]     both: [prevValue]
//
// "carried" are history entries older than the compaction revision: for each key at most the put
// that was its value at the compaction point (as etcd keeps it). Together with the event log they
// rebuild every key's history, which is therefore not written twice. Attached keys of a lease are
// rebuilt from the keys' lease fields.

import { ByteReader, ByteWriter, DecodeError, crc32 } from "./binary.ts";
import { SnapshotFormatError } from "./errors.ts";
import { MAX_LEASE_TTL_SECONDS, keyProblem, leaseIdProblem } from "./keys.ts";
import type { KeyValue, KvEvent, LeaseId, PutEvent } from "./types.ts";

const MAGIC = [0x4e, 0x4b, 0x56, 0x53]; // "NKVS"
export const SNAPSHOT_FORMAT = 1;

const EVENT_PUT = 1;
const EVENT_DELETE = 2;
const FLAG_PREV_VALUE = 1;
const FLAG_LEASE = 2;

export interface SnapshotLease {
  readonly id: LeaseId;
  readonly ttlSeconds: number;
  readonly renewals: number;
}

/** The state machine's state in canonical order, as the snapshot holds it. */
export interface SnapshotState {
  readonly revision: number;
  readonly compactRevision: number;
  readonly leases: readonly SnapshotLease[];
  readonly keys: readonly KeyValue[];
  readonly carried: readonly PutEvent[];
  readonly events: readonly KvEvent[];
}

export function encodeSnapshot(state: SnapshotState): Uint8Array {
  const w = new ByteWriter(1024);
  for (const byte of MAGIC) w.u8(byte);
  w.u8(SNAPSHOT_FORMAT);
  w.uvarint(state.revision);
  w.uvarint(state.compactRevision);
  w.uvarint(state.leases.length);
  for (const lease of state.leases) {
    w.string(lease.id);
    w.uvarint(lease.ttlSeconds);
    w.uvarint(lease.renewals);
  }
  w.uvarint(state.keys.length);
  for (const kv of state.keys) {
    w.string(kv.key);
    w.string(kv.value);
    w.uvarint(kv.createRevision);
    w.uvarint(kv.modRevision);
    w.uvarint(kv.version);
    w.u8(kv.lease !== undefined ? 1 : 0);
    if (kv.lease !== undefined) w.string(kv.lease);
  }
  w.uvarint(state.carried.length);
  for (const event of state.carried) writeEvent(w, event);
  w.uvarint(state.events.length);
  for (const event of state.events) writeEvent(w, event);
  const body = w.finish();
  const out = new Uint8Array(body.length + 4);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32(body));
  return out;
}

function writeEvent(w: ByteWriter, event: KvEvent): void {
  const lease = event.type === "put" ? event.lease : undefined;
  w.u8(event.type === "put" ? EVENT_PUT : EVENT_DELETE);
  w.u8((event.prevValue !== undefined ? FLAG_PREV_VALUE : 0) | (lease !== undefined ? FLAG_LEASE : 0));
  w.string(event.key);
  w.uvarint(event.revision);
  if (event.type === "put") {
    w.string(event.value);
    w.uvarint(event.createRevision);
    w.uvarint(event.version);
    if (lease !== undefined) w.string(lease);
  }
  if (event.prevValue !== undefined) w.string(event.prevValue);
}

/** Parses and checks a snapshot; throws SnapshotFormatError on anything it cannot vouch for. */
export function decodeSnapshot(bytes: Uint8Array): SnapshotState {
  if (!(bytes instanceof Uint8Array)) throw new SnapshotFormatError("not bytes");
  if (bytes.length < MAGIC.length + 1 + 4) throw new SnapshotFormatError("too short");
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new SnapshotFormatError("not a kv snapshot (bad magic)");
  }
  const format = bytes[MAGIC.length];
  if (format !== SNAPSHOT_FORMAT) throw new SnapshotFormatError(`unsupported format version ${format}`);
  const body = bytes.subarray(0, bytes.length - 4);
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(bytes.length - 4);
  if (crc32(body) !== stored) throw new SnapshotFormatError("checksum mismatch");
  try {
    return parseBody(new ByteReader(body.subarray(MAGIC.length + 1)));
  } catch (error) {
    if (error instanceof DecodeError) throw new SnapshotFormatError(error.message, { cause: error });
    throw error;
  }
}

function fail(reason: string): never {
  throw new SnapshotFormatError(reason);
}

function parseBody(r: ByteReader): SnapshotState {
  const revision = r.uvarint();
  const compactRevision = r.uvarint();
  if (compactRevision > revision) fail(`compact revision ${compactRevision} beyond revision ${revision}`);

  const leases: SnapshotLease[] = [];
  const leaseIds = new Set<string>();
  const leaseCount = boundedCount(r);
  for (let i = 0; i < leaseCount; i++) {
    const id = r.string();
    const ttlSeconds = r.uvarint();
    const renewals = r.uvarint();
    const problem = leaseIdProblem(id);
    if (problem !== undefined) fail(`lease ${JSON.stringify(id)}: ${problem}`);
    if (i > 0 && !(leases[i - 1]!.id < id)) fail("leases out of order");
    if (ttlSeconds < 1 || ttlSeconds > MAX_LEASE_TTL_SECONDS) fail(`lease ${id}: ttl ${ttlSeconds} out of range`);
    leases.push({ id, ttlSeconds, renewals });
    leaseIds.add(id);
  }

  const keys: KeyValue[] = [];
  const keyCount = boundedCount(r);
  for (let i = 0; i < keyCount; i++) {
    const key = r.string();
    const value = r.string();
    const createRevision = r.uvarint();
    const modRevision = r.uvarint();
    const version = r.uvarint();
    const flags = r.u8();
    if (flags > 1) fail(`key ${key}: unknown flags ${flags}`);
    const lease = flags === 1 ? r.string() : undefined;
    checkKey(key);
    if (i > 0 && !(keys[i - 1]!.key < key)) fail("keys out of order");
    if (!(1 <= createRevision && createRevision <= modRevision && modRevision <= revision)) {
      fail(`key ${key}: revisions ${createRevision}/${modRevision} inconsistent with ${revision}`);
    }
    if (version < 1) fail(`key ${key}: version ${version}`);
    if (lease !== undefined && !leaseIds.has(lease)) fail(`key ${key}: unknown lease ${lease}`);
    keys.push(lease === undefined ? { key, value, createRevision, modRevision, version } : { key, value, createRevision, modRevision, version, lease });
  }

  const carried: PutEvent[] = [];
  const carriedCount = boundedCount(r);
  for (let i = 0; i < carriedCount; i++) {
    const event = readEvent(r);
    if (event.type !== "put") fail("a carried history entry must be a put");
    if (i > 0 && !(carried[i - 1]!.key < event.key)) fail("carried history out of order");
    if (event.revision >= compactRevision) fail(`carried history at ${event.revision}, not before ${compactRevision}`);
    carried.push(event);
  }

  const events: KvEvent[] = [];
  const eventCount = boundedCount(r);
  let last = Math.max(compactRevision, 1);
  for (let i = 0; i < eventCount; i++) {
    const event = readEvent(r);
    if (event.revision < last || event.revision > revision) fail(`event at ${event.revision} out of order or range`);
    last = event.revision;
    events.push(event);
  }
  r.end();
  return { revision, compactRevision, leases, keys, carried, events };
}

/** A count no larger than the bytes left (every item takes at least one), checked before any allocation. */
function boundedCount(r: ByteReader): number {
  const count = r.uvarint();
  if (count > r.remaining) fail(`count ${count} runs past the end of data`);
  return count;
}

function checkKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) fail(`key ${JSON.stringify(key)}: ${problem}`);
}

function readEvent(r: ByteReader): KvEvent {
  const type = r.u8();
  const flags = r.u8();
  if (flags > (FLAG_PREV_VALUE | FLAG_LEASE)) fail(`unknown event flags ${flags}`);
  const key = r.string();
  checkKey(key);
  const revision = r.uvarint();
  if (revision < 1) fail("event at revision 0");
  if (type === EVENT_PUT) {
    const value = r.string();
    const createRevision = r.uvarint();
    const version = r.uvarint();
    if (!(1 <= createRevision && createRevision <= revision) || version < 1) fail(`put event for ${key} inconsistent`);
    const lease = flags & FLAG_LEASE ? r.string() : undefined;
    if (lease !== undefined && leaseIdProblem(lease) !== undefined) fail(`put event for ${key}: bad lease id`);
    const prevValue = flags & FLAG_PREV_VALUE ? r.string() : undefined;
    return putEvent(key, value, revision, createRevision, version, lease, prevValue);
  }
  if (type === EVENT_DELETE) {
    if (flags & FLAG_LEASE) fail("a delete event has no lease");
    const prevValue = flags & FLAG_PREV_VALUE ? r.string() : undefined;
    return deleteEvent(key, revision, prevValue);
  }
  return fail(`unknown event type ${type}`);
}

/** Builds a put event with optional fields present only when set, so equal events are deep-equal. */
export function putEvent(
  key: string,
  value: string,
  revision: number,
  createRevision: number,
  version: number,
  lease: LeaseId | undefined,
  prevValue: string | undefined,
): PutEvent {
  if (lease === undefined) {
    return prevValue === undefined
      ? { type: "put", key, value, revision, createRevision, version }
      : { type: "put", key, value, revision, createRevision, version, prevValue };
  }
  return prevValue === undefined
    ? { type: "put", key, value, revision, createRevision, version, lease }
    : { type: "put", key, value, revision, createRevision, version, lease, prevValue };
}

export function deleteEvent(key: string, revision: number, prevValue: string | undefined): KvEvent {
  return prevValue === undefined ? { type: "delete", key, revision } : { type: "delete", key, revision, prevValue };
}
