import { describe, expect, test } from "bun:test";
import { decodeMessages, encodeMessages } from "./codec.ts";
import { decodeConfChange, encodeConfChange } from "./conf-change.ts";
import { MessageDecodeError } from "./errors.ts";
import { makeMessage, type Message } from "./message.ts";
import { seededRandom } from "./test-network.ts";

const sample: Message[] = [
  makeMessage({
    type: "app",
    from: "cp-1",
    to: "cp-2",
    term: 7,
    logTerm: 6,
    index: 41,
    commit: 40,
    entries: [
      { term: 7, index: 42, type: "normal", data: new Uint8Array([1, 2, 3]) },
      { term: 7, index: 43, type: "confChange", data: encodeConfChange({ type: "addLearner", nodeId: "cp-4", context: "http://cp-4:8080" }) },
    ],
  }),
  makeMessage({ type: "appResp", from: "cp-2", to: "cp-1", term: 7, index: 41, reject: true, rejectHint: 30, logTerm: 5 }),
  makeMessage({ type: "heartbeat", from: "cp-1", to: "cp-3", term: 2 ** 40, commit: Number.MAX_SAFE_INTEGER, context: "read-é-1" }),
  makeMessage({
    type: "snap",
    from: "cp-1",
    to: "cp-3",
    term: 9,
    snapshot: { metadata: { index: 100, term: 8, confState: { voters: ["cp-1", "cp-2", "cp-3"], learners: ["cp-4"] } }, data: new Uint8Array(1000).fill(7) },
  }),
  makeMessage({ type: "prop", from: "cp-2", to: "cp-1", entries: [{ term: 0, index: 0, type: "normal", data: new Uint8Array() }] }),
  makeMessage({ type: "preVote", from: "cp-3", to: "cp-1", term: 10, index: 99, logTerm: 8 }),
];

describe("message codec", () => {
  test("round-trips every field", () => {
    expect(decodeMessages(encodeMessages(sample))).toEqual(sample);
    expect(decodeMessages(encodeMessages([]))).toEqual([]);
  });

  test("is compact: a heartbeat costs a handful of bytes beyond the ids", () => {
    const hb = makeMessage({ type: "heartbeat", from: "a", to: "b", term: 3, commit: 1000 });
    const one = encodeMessages([hb]).length;
    const hundred = encodeMessages(new Array(100).fill(hb)).length;
    expect(one).toBeLessThan(20);
    expect((hundred - one) / 99).toBeLessThanOrEqual(10);
  });

  test("refuses local message kinds", () => {
    expect(() => encodeMessages([makeMessage({ type: "hup", from: "a", to: "a" })])).toThrow(TypeError);
  });

  test("every truncation of a valid batch throws MessageDecodeError", () => {
    const bytes = encodeMessages(sample);
    for (let n = 0; n < bytes.length; n++) {
      expect(() => decodeMessages(bytes.subarray(0, n))).toThrow(MessageDecodeError);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeMessages(longer)).toThrow(MessageDecodeError);
  });

  test("random and mutated bytes never crash, hang or allocate absurdly", () => {
    const rnd = seededRandom(42);
    const valid = encodeMessages(sample);
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) {
      let b: Uint8Array;
      if (i % 2 === 0) {
        b = new Uint8Array(Math.floor(rnd() * 64)).map(() => Math.floor(rnd() * 256));
        if (b.length > 0) b[0] = 1; // get past the version byte
      } else {
        b = valid.slice();
        const flips = 1 + Math.floor(rnd() * 4);
        for (let k = 0; k < flips; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      }
      try {
        const msgs = decodeMessages(b);
        expect(Array.isArray(msgs)).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(MessageDecodeError);
      }
    }
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  test("forged counts and lengths are checked against the input", () => {
    // version 1, 1 string "a", then a message count of 2^50
    const forged = new Uint8Array([1, 1, 1, 97, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02]);
    expect(() => decodeMessages(forged)).toThrow(MessageDecodeError);
    // a varint longer than 8 bytes
    expect(() => decodeMessages(new Uint8Array([1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(MessageDecodeError);
    expect(() => decodeMessages(new Uint8Array([2]))).toThrow(MessageDecodeError);
    expect(() => decodeMessages(new Uint8Array([]))).toThrow(MessageDecodeError);
  });

  test("encodes a large batch quickly", () => {
    const data = new Uint8Array(100);
    const entries = Array.from({ length: 1000 }, (_, i) => ({ term: 5, index: 1000 + i, type: "normal" as const, data }));
    const m = makeMessage({ type: "app", from: "a", to: "b", term: 5, logTerm: 5, index: 999, entries });
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) expect(decodeMessages(encodeMessages([m]))[0]!.entries.length).toBe(1000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("conf change codec", () => {
  test("round-trips and rejects garbage", () => {
    const cc = { type: "removeNode" as const, nodeId: "cp-9", context: "" };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(() => decodeConfChange(new Uint8Array([1, 9, 0, 0]))).toThrow(MessageDecodeError);
    expect(() => decodeConfChange(new Uint8Array([1, 0, 0, 0]))).toThrow(MessageDecodeError); // empty id
    expect(() => decodeConfChange(new Uint8Array([]))).toThrow(MessageDecodeError);
  });
});
