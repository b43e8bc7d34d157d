// A compact, versioned binary encoding for batches of messages on the wire.
//
// Layout (version 1), integers as unsigned LEB128 varints:
//   u8 version
//   varint n_strings, n_strings x (varint len, utf8)        node ids, shared by the batch
//   varint n_messages, per message:
//     u8 type, varint from, varint to (string table indexes)
//     varint term, logTerm, index, commit, rejectHint
//     u8 flags: 1 reject, 2 entries, 4 snapshot, 8 context
//     [entries]  varint n, n x (varint term, varint index, u8 type, varint len, bytes)
//     [snapshot] varint index, varint term, varint n_voters, ids, varint n_learners, ids, varint len, bytes
//     [context]  varint len, utf8
// Decoding never trusts a length: every count is checked against the bytes left, so truncated,
// oversized or forged input throws MessageDecodeError instead of allocating or looping.

import { ByteReader, ByteWriter } from "./binary.ts";
import { MessageDecodeError } from "./errors.ts";
import { isLocalMessageType, type Message, type MessageType, NO_ENTRIES } from "./message.ts";
import type { Entry, EntryType, NodeId, Snapshot } from "./types.ts";

const VERSION = 1;
const MAX_ID_BYTES = 1024;
const MAX_CONTEXT_BYTES = 1 << 20;

// Codes are part of the wire format: never renumber.
const TYPE_CODES: readonly MessageType[] = [
  "hup", "beat", "prop", "app", "appResp", "vote", "voteResp", "snap", "heartbeat", "heartbeatResp",
  "unreachable", "snapStatus", "checkQuorum", "transferLeader", "timeoutNow", "readIndex",
  "readIndexResp", "preVote", "preVoteResp",
];
const CODE_OF = new Map<MessageType, number>(TYPE_CODES.map((t, i) => [t, i]));
const ENTRY_TYPES: readonly EntryType[] = ["normal", "confChange"];

const F_REJECT = 1;
const F_ENTRIES = 2;
const F_SNAPSHOT = 4;
const F_CONTEXT = 8;

/** Encodes a batch of network messages. Throws TypeError for a local-only message kind. */
export function encodeMessages(messages: readonly Message[]): Uint8Array {
  const strings = new Map<NodeId, number>();
  const intern = (s: NodeId): number => {
    let i = strings.get(s);
    if (i === undefined) {
      i = strings.size;
      strings.set(s, i);
    }
    return i;
  };
  let dataBytes = 0;
  for (const m of messages) {
    intern(m.from);
    intern(m.to);
    for (const e of m.entries) dataBytes += e.data.byteLength + 12;
    if (m.snapshot !== null) {
      dataBytes += m.snapshot.data.byteLength + 32;
      for (const id of m.snapshot.metadata.confState.voters) intern(id);
      for (const id of m.snapshot.metadata.confState.learners) intern(id);
    }
  }
  const w = new ByteWriter(64 + messages.length * 48 + dataBytes);
  w.u8(VERSION);
  w.varint(strings.size);
  for (const s of strings.keys()) w.string(s);
  w.varint(messages.length);
  for (const m of messages) {
    const code = CODE_OF.get(m.type);
    if (code === undefined || isLocalMessageType(m.type)) throw new TypeError(`cannot encode a ${m.type} message`);
    w.u8(code);
    w.varint(intern(m.from));
    w.varint(intern(m.to));
    w.varint(m.term);
    w.varint(m.logTerm);
    w.varint(m.index);
    w.varint(m.commit);
    w.varint(m.rejectHint);
    const flags =
      (m.reject ? F_REJECT : 0) |
      (m.entries.length > 0 ? F_ENTRIES : 0) |
      (m.snapshot !== null ? F_SNAPSHOT : 0) |
      (m.context !== "" ? F_CONTEXT : 0);
    w.u8(flags);
    if (m.entries.length > 0) {
      w.varint(m.entries.length);
      for (const e of m.entries) {
        w.varint(e.term);
        w.varint(e.index);
        w.u8(e.type === "normal" ? 0 : 1);
        w.bytes(e.data);
      }
    }
    if (m.snapshot !== null) {
      const md = m.snapshot.metadata;
      w.varint(md.index);
      w.varint(md.term);
      w.varint(md.confState.voters.length);
      for (const id of md.confState.voters) w.varint(intern(id));
      w.varint(md.confState.learners.length);
      for (const id of md.confState.learners) w.varint(intern(id));
      w.bytes(m.snapshot.data);
    }
    if (m.context !== "") w.string(m.context);
  }
  return w.finish();
}

/**
 * Decodes a batch produced by encodeMessages. Throws MessageDecodeError for anything else:
 * unknown version, truncation, trailing bytes, counts larger than the input, invalid UTF-8,
 * unknown kinds or flags, local-only kinds, integers beyond 2^53-1.
 */
export function decodeMessages(bytes: Uint8Array): Message[] {
  if (!(bytes instanceof Uint8Array)) throw new MessageDecodeError("input is not bytes", 0);
  const r = new ByteReader(bytes);
  if (r.u8() !== VERSION) r.fail("unknown codec version");
  const nStrings = r.count(2);
  const strings: string[] = [];
  for (let i = 0; i < nStrings; i++) {
    const s = r.string(MAX_ID_BYTES);
    if (s === "") r.fail("empty node id");
    strings.push(s);
  }
  const id = (): NodeId => {
    return strings[r.varint()] ?? r.fail("string index out of range");
  };
  const n = r.count(9);
  const out: Message[] = [];
  for (let k = 0; k < n; k++) {
    const type = TYPE_CODES[r.u8()] ?? r.fail("unknown message type");
    if (isLocalMessageType(type)) r.fail("local message type");
    const from = id();
    const to = id();
    const term = r.varint();
    const logTerm = r.varint();
    const index = r.varint();
    const commit = r.varint();
    const rejectHint = r.varint();
    const flags = r.u8();
    if ((flags & ~(F_REJECT | F_ENTRIES | F_SNAPSHOT | F_CONTEXT)) !== 0) r.fail("unknown flags");
    let entries: readonly Entry[] = NO_ENTRIES;
    if ((flags & F_ENTRIES) !== 0) {
      const ne = r.count(4);
      if (ne === 0) r.fail("empty entries flagged");
      const list: Entry[] = new Array<Entry>(ne);
      for (let i = 0; i < ne; i++) {
        const eterm = r.varint();
        const eindex = r.varint();
        const etype = ENTRY_TYPES[r.u8()] ?? r.fail("unknown entry type");
        list[i] = { term: eterm, index: eindex, type: etype, data: r.bytes() };
      }
      entries = list;
    }
    let snapshot: Snapshot | null = null;
    if ((flags & F_SNAPSHOT) !== 0) {
      const sindex = r.varint();
      const sterm = r.varint();
      const voters: NodeId[] = [];
      const nv = r.count(1);
      for (let i = 0; i < nv; i++) voters.push(id());
      const learners: NodeId[] = [];
      const nl = r.count(1);
      for (let i = 0; i < nl; i++) learners.push(id());
      snapshot = { metadata: { index: sindex, term: sterm, confState: { voters, learners } }, data: r.bytes() };
    }
    const context = (flags & F_CONTEXT) !== 0 ? r.string(MAX_CONTEXT_BYTES) : "";
    if ((flags & F_CONTEXT) !== 0 && context === "") r.fail("empty context flagged");
    out.push({ type, from, to, term, logTerm, index, commit, entries, snapshot, reject: (flags & F_REJECT) !== 0, rejectHint, context });
  }
  if (r.remaining !== 0) r.fail("trailing bytes");
  return out;
}
