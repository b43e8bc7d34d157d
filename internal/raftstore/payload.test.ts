import { describe, expect, test } from "bun:test";
import { PayloadError, decodeEntry, decodeSnapshot, encodeEntry, encodeSnapshot } from "./payload.ts";

describe("entry payload", () => {
  test("round trip", () => {
    const command = new Uint8Array([1, 2, 3, 250]);
    expect(decodeEntry(encodeEntry("cp-1/0a1b/42", command))).toEqual({ requestId: "cp-1/0a1b/42", command });
  });
  test("corrupt payloads are refused", () => {
    expect(() => decodeEntry(new Uint8Array([]))).toThrow(PayloadError);
    expect(() => decodeEntry(new Uint8Array([9, 0]))).toThrow(PayloadError);
    expect(() => decodeEntry(new Uint8Array([1, 10, 65]))).toThrow(PayloadError);
    expect(() => decodeEntry(new Uint8Array([1, 2, 0xff, 0xfe]))).toThrow();
  });
});

describe("snapshot payload", () => {
  test("round trip", () => {
    const payload = { members: { "cp-1": "http://a:1", "cp-2": "http://b:2" }, state: new Uint8Array([7, 8, 9]) };
    expect(decodeSnapshot(encodeSnapshot(payload))).toEqual(payload);
  });
  test("corrupt payloads are refused", () => {
    expect(() => decodeSnapshot(new Uint8Array([1, 0, 0, 0, 50]))).toThrow(PayloadError);
    const bad = encodeSnapshot({ members: {}, state: new Uint8Array() });
    bad[5] = "[".charCodeAt(0);
    expect(() => decodeSnapshot(bad)).toThrow(PayloadError);
  });
});
