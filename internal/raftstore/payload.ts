// What the Raft log and snapshots carry for the store. A normal entry holds one state-machine
// command tagged with the id of the request that proposed it, so that the member that proposed
// it can hand the result back to the waiting caller when the entry applies. A snapshot holds the
// member table (ids and URLs, which Raft's ConfState does not know) and the state machine.

const ENTRY_VERSION = 1;
const SNAPSHOT_VERSION = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A malformed entry or snapshot payload: the log or snapshot is corrupt. */
export class PayloadError extends Error {
  override readonly name = "PayloadError";
}

/** [version u8][request id length u8][request id utf-8][command bytes] */
export function encodeEntry(requestId: string, command: Uint8Array): Uint8Array {
  const id = encoder.encode(requestId);
  if (id.length > 255) throw new PayloadError("request id longer than 255 bytes");
  const out = new Uint8Array(2 + id.length + command.length);
  out[0] = ENTRY_VERSION;
  out[1] = id.length;
  out.set(id, 2);
  out.set(command, 2 + id.length);
  return out;
}

export function decodeEntry(data: Uint8Array): { requestId: string; command: Uint8Array } {
  if (data.length < 2 || data[0] !== ENTRY_VERSION) throw new PayloadError("unknown entry payload version");
  const idLength = data[1]!;
  if (data.length < 2 + idLength) throw new PayloadError("truncated entry payload");
  return {
    requestId: decoder.decode(data.subarray(2, 2 + idLength)),
    command: data.subarray(2 + idLength),
  };
}

export interface SnapshotPayload {
  /** Member id to advertised URL, for every voter and learner. */
  readonly members: Readonly<Record<string, string>>;
  readonly state: Uint8Array;
}

/** [version u8][members JSON length u32 BE][members JSON][state machine snapshot] */
export function encodeSnapshot(payload: SnapshotPayload): Uint8Array {
  const members = encoder.encode(JSON.stringify(payload.members));
  const out = new Uint8Array(5 + members.length + payload.state.length);
  out[0] = SNAPSHOT_VERSION;
  new DataView(out.buffer).setUint32(1, members.length);
  out.set(members, 5);
  out.set(payload.state, 5 + members.length);
  return out;
}

export function decodeSnapshot(data: Uint8Array): SnapshotPayload {
  if (data.length < 5 || data[0] !== SNAPSHOT_VERSION) throw new PayloadError("unknown snapshot payload version");
  const length = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
  if (data.length < 5 + length) throw new PayloadError("truncated snapshot payload");
  let members: unknown;
  try {
    members = JSON.parse(decoder.decode(data.subarray(5, 5 + length)));
  } catch {
    throw new PayloadError("snapshot member table is not valid JSON");
  }
  if (typeof members !== "object" || members === null || Array.isArray(members)) {
    throw new PayloadError("snapshot member table is not an object");
  }
  for (const url of Object.values(members)) if (typeof url !== "string") throw new PayloadError("snapshot member URL is not a string");
  return { members: members as Record<string, string>, state: data.subarray(5 + length) };
}
