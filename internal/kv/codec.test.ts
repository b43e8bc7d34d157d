import { describe, expect, test } from "bun:test";
import { ByteReader, ByteWriter, crc32 } from "./binary.ts";
import { encodeUnchecked } from "./codec.ts";
import {
  KvStateMachine,
  MalformedCommandError,
  decodeCommand,
  encodeCommand,
  keyProblem,
  leaseIdProblem,
  type Command,
} from "./index.ts";

const commands: Command[] = [
  { op: "put", key: "services/payment/timeout", value: '{"ms":500}' },
  { op: "put", key: "a", value: "", lease: "lease-1", ifModRevision: 0 },
  { op: "put", key: "a", value: "\uFEFF✓ 😀", ifModRevision: 2 ** 53 - 1 },
  { op: "put", key: "k", value: "x".repeat(100_000), lease: "7587862111094226434" },
  { op: "delete", key: "services/payment/timeout" },
  { op: "delete", key: "a", ifModRevision: 12 },
  { op: "leaseGrant", id: "l1", ttlSeconds: 10 },
  { op: "leaseGrant", id: "l1", ttlSeconds: 9_000_000_000 },
  { op: "leaseRevoke", id: "l1" },
  { op: "leaseKeepAlive", id: "l.1_x-2" },
  { op: "leaseExpire", ids: [] },
  { op: "leaseExpire", ids: ["a", "b", "c"] },
  { op: "compact", revision: 0 },
  { op: "compact", revision: 123456789 },
];

describe("command codec", () => {
  for (const command of commands) {
    test(`round-trips ${JSON.stringify(command).slice(0, 80)}`, () => {
      const bytes = encodeCommand(command);
      expect(decodeCommand(bytes)).toStrictEqual(command);
      // Canonical: re-encoding the decoded command gives the same bytes.
      expect(encodeCommand(decodeCommand(bytes))).toEqual(bytes);
    });
  }

  test("is compact", () => {
    expect(encodeCommand({ op: "put", key: "a/b", value: "1" }).length).toBe(2 + 1 + 4 + 2);
    expect(encodeCommand({ op: "compact", revision: 100 }).length).toBe(3);
  });

  test("encodeCommand refuses an invalid command at the proposer", () => {
    expect(() => encodeCommand({ op: "put", key: "/a", value: "v" })).toThrow(MalformedCommandError);
    expect(() => encodeCommand({ op: "put", key: "a", value: "\uD800" })).toThrow(/well-formed/);
    expect(() => encodeCommand({ op: "leaseGrant", id: "l", ttlSeconds: 0 })).toThrow(/ttlSeconds/);
    expect(() => encodeCommand({ op: "compact", revision: -1 })).toThrow(/revision/);
    expect(() => encodeCommand({ op: "delete", key: "a", ifModRevision: 1.5 })).toThrow(/ifModRevision/);
    expect(() => encodeCommand({ op: "nope" } as unknown as Command)).toThrow(/unknown op/);
  });

  const malformed: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["unknown format", Uint8Array.of(2, 1, 0, 1, 97, 0)],
    ["unknown op", Uint8Array.of(1, 99)],
    ["truncated", encodeUnchecked({ op: "put", key: "a/b", value: "value" }).subarray(0, 6)],
    ["trailing bytes", Uint8Array.of(...encodeUnchecked({ op: "delete", key: "a" }), 0)],
    ["unknown flags", Uint8Array.of(1, 1, 4, 1, 97, 0)],
    ["invalid UTF-8", Uint8Array.of(1, 2, 0, 2, 0xc3, 0x28)],
    ["non-minimal varint", Uint8Array.of(1, 7, 0x80, 0x00)],
    ["varint beyond 2^53", Uint8Array.of(1, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)],
    ["bad key", encodeUnchecked({ op: "put", key: "a//b", value: "v" })],
    ["NUL in key", encodeUnchecked({ op: "delete", key: "a\u0000b" })],
    ["bad lease id", encodeUnchecked({ op: "leaseRevoke", id: "has space" })],
    ["zero ttl", encodeUnchecked({ op: "leaseGrant", id: "l", ttlSeconds: 0 })],
    ["lease count past the end", Uint8Array.of(1, 6, 100, 1, 97)],
  ];

  for (const [name, bytes] of malformed) {
    test(`rejects ${name} with MalformedCommandError, and apply answers a failure`, () => {
      expect(() => decodeCommand(bytes)).toThrow(MalformedCommandError);
      const a = new KvStateMachine();
      const b = new KvStateMachine();
      const result = a.apply(bytes);
      expect(result).toMatchObject({ failed: "malformed" });
      // Deterministic: the same verdict, word for word, on another member; and nothing changed.
      expect(b.apply(bytes)).toStrictEqual(result);
      expect(a.currentRevision).toBe(0);
      expect(a.snapshot()).toEqual(new KvStateMachine().snapshot());
    });
  }

  test("apply of a command object with bad fields answers malformed", () => {
    const sm = new KvStateMachine();
    expect(sm.apply({ op: "put", key: "", value: "v" })).toEqual({ failed: "malformed", reason: "key: a key cannot be empty" });
    expect(sm.apply({ op: "put", key: "a", value: 5 } as unknown as Command)).toMatchObject({ failed: "malformed" });
    expect(sm.apply({ op: "leaseExpire", ids: "l1" } as unknown as Command)).toMatchObject({ failed: "malformed" });
    expect(sm.apply(null as unknown as Command)).toMatchObject({ failed: "malformed" });
  });
});

describe("key and lease id rules", () => {
  test("accepts the keys the HTTP API uses", () => {
    for (const key of ["services/payment/timeout", "a", "nodes/node-1", "policies/authz/x.y_z~v:w@1", "x".repeat(512)]) {
      expect(keyProblem(key)).toBeUndefined();
    }
  });

  test("refuses empty, long, slashed, dotted, NUL and non-ASCII keys", () => {
    for (const key of ["", "x".repeat(513), "/a", "a/", "a//b", "a/./b", "..", "a\u0000", "a b", "café", "a\nb", "é".repeat(300)]) {
      expect(keyProblem(key)).toBeString();
    }
    expect(keyProblem(42)).toBeString();
  });

  test("lease ids", () => {
    expect(leaseIdProblem("7587862111094226434")).toBeUndefined();
    expect(leaseIdProblem("node-1.lease_2")).toBeUndefined();
    for (const id of ["", "a b", "x".repeat(65), "a/b"]) expect(leaseIdProblem(id)).toBeString();
  });
});

describe("binary primitives", () => {
  test("varints round-trip at the edges", () => {
    for (const n of [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1]) {
      const w = new ByteWriter(1);
      w.uvarint(n);
      const r = new ByteReader(w.finish());
      expect(r.uvarint()).toBe(n);
      r.end();
    }
  });

  test("crc32 matches the standard check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });
});
