// The wire form of a command, as it travels in a Raft log entry. Binary, versioned, and checked
// field by field on the way in, because every member must reach the same verdict on the same bytes:
//
//   [format=1] [op] fields...
//   put            flags(1=lease, 2=ifModRevision) key value [lease] [ifModRevision]
//   delete         flags(2=ifModRevision) key [ifModRevision]
//   leaseGrant     id ttlSeconds
//   leaseRevoke    id
//   leaseKeepAlive id
//   leaseExpire    count id...
//   compact        revision
//
// Numbers are minimal unsigned varints, strings a varint byte length then strict UTF-8.

import { ByteReader, ByteWriter, DecodeError, isWellFormed } from "./binary.ts";
import { MalformedCommandError } from "./errors.ts";
import { MAX_LEASE_TTL_SECONDS, keyProblem, leaseIdProblem } from "./keys.ts";
import type { Command, CommandOp } from "./types.ts";

export const COMMAND_FORMAT = 1;

const OP_CODES: Record<CommandOp, number> = {
  put: 1,
  delete: 2,
  leaseGrant: 3,
  leaseRevoke: 4,
  leaseKeepAlive: 5,
  leaseExpire: 6,
  compact: 7,
};

const FLAG_LEASE = 1;
const FLAG_IF_MOD_REVISION = 2;

/**
 * Encodes a command for a Raft log entry. Throws MalformedCommandError when the command is
 * invalid, so that a bad request fails at the proposer instead of occupying a log entry.
 */
export function encodeCommand(command: Command): Uint8Array {
  const problem = commandProblem(command);
  if (problem !== undefined) throw new MalformedCommandError(problem);
  return encodeUnchecked(command);
}

/** Encodes without validation: for tests that need malformed entries. Not exported from index.ts. */
export function encodeUnchecked(command: Command): Uint8Array {
  const w = new ByteWriter(32);
  w.u8(COMMAND_FORMAT);
  w.u8(OP_CODES[command.op]);
  switch (command.op) {
    case "put":
      w.u8((command.lease !== undefined ? FLAG_LEASE : 0) | (command.ifModRevision !== undefined ? FLAG_IF_MOD_REVISION : 0));
      w.string(command.key);
      w.string(command.value);
      if (command.lease !== undefined) w.string(command.lease);
      if (command.ifModRevision !== undefined) w.uvarint(command.ifModRevision);
      break;
    case "delete":
      w.u8(command.ifModRevision !== undefined ? FLAG_IF_MOD_REVISION : 0);
      w.string(command.key);
      if (command.ifModRevision !== undefined) w.uvarint(command.ifModRevision);
      break;
    case "leaseGrant":
      w.string(command.id);
      w.uvarint(command.ttlSeconds);
      break;
    case "leaseRevoke":
    case "leaseKeepAlive":
      w.string(command.id);
      break;
    case "leaseExpire":
      w.uvarint(command.ids.length);
      for (const id of command.ids) w.string(id);
      // Optional trailing section: the renewal counts, one per id.
      if (command.renewals !== undefined) {
        w.uvarint(command.renewals.length);
        for (const renewals of command.renewals) w.uvarint(renewals);
      }
      break;
    case "compact":
      w.uvarint(command.revision);
      break;
  }
  return w.finish();
}

/** Decodes and validates a command; throws MalformedCommandError with the reason otherwise. */
export function decodeCommand(bytes: Uint8Array): Command {
  const command = decodeStructure(bytes);
  const problem = commandProblem(command);
  if (problem !== undefined) throw new MalformedCommandError(problem);
  return command;
}

function decodeStructure(bytes: Uint8Array): Command {
  if (!(bytes instanceof Uint8Array)) throw new MalformedCommandError("not bytes");
  if (bytes.length === 0) throw new MalformedCommandError("empty command");
  const r = new ByteReader(bytes);
  try {
    const format = r.u8();
    if (format !== COMMAND_FORMAT) throw new MalformedCommandError(`unknown command format ${format}`);
    const code = r.u8();
    let command: Command;
    switch (code) {
      case OP_CODES.put: {
        const flags = flagsOf(r, FLAG_LEASE | FLAG_IF_MOD_REVISION);
        const key = r.string();
        const value = r.string();
        const lease = flags & FLAG_LEASE ? r.string() : undefined;
        const ifModRevision = flags & FLAG_IF_MOD_REVISION ? r.uvarint() : undefined;
        command = {
          op: "put",
          key,
          value,
          ...(lease !== undefined ? { lease } : {}),
          ...(ifModRevision !== undefined ? { ifModRevision } : {}),
        };
        break;
      }
      case OP_CODES.delete: {
        const flags = flagsOf(r, FLAG_IF_MOD_REVISION);
        const key = r.string();
        command = flags & FLAG_IF_MOD_REVISION ? { op: "delete", key, ifModRevision: r.uvarint() } : { op: "delete", key };
        break;
      }
      case OP_CODES.leaseGrant:
        command = { op: "leaseGrant", id: r.string(), ttlSeconds: r.uvarint() };
        break;
      case OP_CODES.leaseRevoke:
        command = { op: "leaseRevoke", id: r.string() };
        break;
      case OP_CODES.leaseKeepAlive:
        command = { op: "leaseKeepAlive", id: r.string() };
        break;
      case OP_CODES.leaseExpire: {
        const count = r.uvarint();
        // Each id takes at least one byte, which bounds the count before allocating.
        if (count > r.remaining) throw new DecodeError("lease count runs past the end of data");
        const ids: string[] = [];
        for (let i = 0; i < count; i++) ids.push(r.string());
        if (r.remaining === 0) {
          command = { op: "leaseExpire", ids };
          break;
        }
        if (r.uvarint() !== count) throw new DecodeError("renewal count differs from lease count");
        const renewals: number[] = [];
        for (let i = 0; i < count; i++) renewals.push(r.uvarint());
        command = { op: "leaseExpire", ids, renewals };
        break;
      }
      case OP_CODES.compact:
        command = { op: "compact", revision: r.uvarint() };
        break;
      default:
        throw new MalformedCommandError(`unknown op code ${code}`);
    }
    r.end();
    return command;
  } catch (error) {
    if (error instanceof DecodeError) throw new MalformedCommandError(error.message);
    throw error;
  }
}

function flagsOf(r: ByteReader, allowed: number): number {
  const flags = r.u8();
  if ((flags & ~allowed) !== 0) throw new DecodeError(`unknown flags ${flags}`);
  return flags;
}

function revisionProblem(name: string, value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    return `${name} must be a non-negative integer`;
  }
  return undefined;
}

/**
 * Why `command` is not a valid command, or undefined when it is. Checks every field that apply
 * relies on, including for objects that did not come through decodeCommand.
 */
export function commandProblem(command: unknown): string | undefined {
  if (typeof command !== "object" || command === null) return "a command must be an object";
  const c = command as Record<string, unknown>;
  switch (c.op) {
    case "put": {
      const problem = keyProblem(c.key);
      if (problem !== undefined) return `key: ${problem}`;
      if (typeof c.value !== "string") return "value must be a string";
      if (!isWellFormed(c.value)) return "value must be well-formed Unicode";
      if (c.lease !== undefined) {
        const leaseProblem = leaseIdProblem(c.lease);
        if (leaseProblem !== undefined) return `lease: ${leaseProblem}`;
      }
      if (c.ifModRevision !== undefined) return revisionProblem("ifModRevision", c.ifModRevision);
      return undefined;
    }
    case "delete": {
      const problem = keyProblem(c.key);
      if (problem !== undefined) return `key: ${problem}`;
      if (c.ifModRevision !== undefined) return revisionProblem("ifModRevision", c.ifModRevision);
      return undefined;
    }
    case "leaseGrant": {
      const problem = leaseIdProblem(c.id);
      if (problem !== undefined) return `id: ${problem}`;
      const ttl = c.ttlSeconds;
      if (typeof ttl !== "number" || !Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_LEASE_TTL_SECONDS) {
        return `ttlSeconds must be an integer from 1 to ${MAX_LEASE_TTL_SECONDS}`;
      }
      return undefined;
    }
    case "leaseRevoke":
    case "leaseKeepAlive": {
      const problem = leaseIdProblem(c.id);
      return problem === undefined ? undefined : `id: ${problem}`;
    }
    case "leaseExpire": {
      if (!Array.isArray(c.ids)) return "ids must be an array";
      for (const id of c.ids as unknown[]) {
        const problem = leaseIdProblem(id);
        if (problem !== undefined) return `ids: ${problem}`;
      }
      if (c.renewals !== undefined) {
        if (!Array.isArray(c.renewals) || c.renewals.length !== c.ids.length) return "renewals must be an array as long as ids";
        for (const n of c.renewals as unknown[]) {
          if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) return "renewals must be non-negative integers";
        }
      }
      return undefined;
    }
    case "compact":
      return revisionProblem("revision", c.revision);
    default:
      return `unknown op ${JSON.stringify(String(c.op))}`;
  }
}
