import { describe, expect, test } from "bun:test";
import { Fields } from "./fields.ts";

describe("Fields: reading", () => {
  test("keeps the given list itself, in wire order, and counts each field", () => {
    const list = ["host", "a", "x-n", "1", "accept", "*/*", "x-n", "2"];
    const fields = new Fields(list);
    expect(fields.list).toBe(list);
    expect(fields.size).toBe(4);
    expect([...fields]).toEqual([
      ["host", "a"],
      ["x-n", "1"],
      ["accept", "*/*"],
      ["x-n", "2"],
    ]);
  });

  test("get joins repeated fields with ', ' in order; first does not; both answer for absent names", () => {
    const fields = new Fields(["x-n", "1", "host", "a", "x-n", "2", "x-n", ""]);
    expect(fields.get("x-n")).toBe("1, 2, ");
    expect(fields.first("x-n")).toBe("1");
    expect(fields.get("host")).toBe("a");
    expect(fields.get("nope")).toBeNull();
    expect(fields.first("nope")).toBeUndefined();
    expect(fields.has("x-n")).toBe(true);
    expect(fields.has("nope")).toBe(false);
  });

  test("names are compared exactly (callers pass lower-case names)", () => {
    const fields = new Fields(["content-type", "text/plain"]);
    expect(fields.get("Content-Type")).toBeNull();
    expect(fields.get("content-type")).toBe("text/plain");
  });

  test("an empty Fields", () => {
    const fields = new Fields();
    expect(fields.size).toBe(0);
    expect([...fields]).toEqual([]);
    expect(fields.get("a")).toBeNull();
    expect(fields.delete("a")).toBe(false);
  });
});

describe("Fields: writing", () => {
  test("set replaces the first field of that name in place and removes the later ones", () => {
    const fields = new Fields(["a", "1", "x", "old1", "b", "2", "x", "old2", "c", "3", "x", "old3"]);
    fields.set("x", "new");
    expect(fields.list).toEqual(["a", "1", "x", "new", "b", "2", "c", "3"]);
  });

  test("set appends a field that is not there; append always adds at the end", () => {
    const fields = new Fields(["a", "1"]);
    fields.set("b", "2");
    fields.append("a", "3");
    expect(fields.list).toEqual(["a", "1", "b", "2", "a", "3"]);
    expect(fields.get("a")).toBe("1, 3");
  });

  test("delete removes every field of the name and says whether there was one", () => {
    const fields = new Fields(["x", "1", "a", "2", "x", "3", "x", "4"]);
    expect(fields.delete("x")).toBe(true);
    expect(fields.list).toEqual(["a", "2"]);
    expect(fields.delete("x")).toBe(false);
  });

  test.each([
    ["Upper", "v"],
    ["with space", "v"],
    ["", "v"],
    ["colon:", "v"],
    ["a\r\nb", "v"],
    ["ünicode", "v"],
  ])("set and append refuse the invalid name %j with a TypeError", (name, value) => {
    const fields = new Fields();
    expect(() => fields.set(name, value)).toThrow(TypeError);
    expect(() => fields.append(name, value)).toThrow(TypeError);
    expect(fields.size).toBe(0);
  });

  test.each([
    ["a\r\nx-injected: 1"],
    ["cr\ronly"],
    ["lf\nonly"],
    ["nul\x00"],
    ["del\x7f"],
    ["euro €"],
    ["\x01"],
  ])("set and append refuse the value %j (control characters, beyond latin1)", (value) => {
    const fields = new Fields(["x", "kept"]);
    expect(() => fields.set("x", value)).toThrow(TypeError);
    expect(() => fields.append("y", value)).toThrow(TypeError);
    expect(fields.list).toEqual(["x", "kept"]);
  });

  test("values may hold HTAB, spaces, visible ASCII and obs-text (latin1 0x80-0xFF), and may be empty", () => {
    const fields = new Fields();
    const value = "a\tb c~!\x80\xe9\xff";
    fields.set("x", value);
    fields.append("empty", "");
    expect(fields.get("x")).toBe(value);
    expect(fields.get("empty")).toBe("");
    // every token character is a valid name
    fields.append("!#$%&'*+-.^_`|~09az", "1");
    expect(fields.has("!#$%&'*+-.^_`|~09az")).toBe(true);
  });
});

describe("Fields: conversions", () => {
  test("from a record lower-cases its names", () => {
    const fields = Fields.from({ "Content-Type": "text/plain", "X-Request-ID": "r1" });
    expect(fields.list).toEqual(["content-type", "text/plain", "x-request-id", "r1"]);
  });

  test("from pairs keeps order and repeats, lower-casing names", () => {
    const fields = Fields.from([
      ["Set-Cookie", "a=1"],
      ["Accept", "x"],
      ["set-cookie", "b=2"],
    ]);
    expect(fields.list).toEqual(["set-cookie", "a=1", "accept", "x", "set-cookie", "b=2"]);
  });

  test("from refuses an invalid value", () => {
    expect(() => Fields.from({ a: "x\r\ny: z" })).toThrow(TypeError);
  });

  test("clone copies the list, not a view of it", () => {
    const fields = new Fields(["a", "1"]);
    const copy = fields.clone();
    copy.set("a", "2");
    copy.append("b", "3");
    expect(fields.list).toEqual(["a", "1"]);
    expect(copy.list).toEqual(["a", "2", "b", "3"]);
    expect(copy.list).not.toBe(fields.list);
  });

  test("toHeaders: every field, set-cookie kept apart", () => {
    const headers = new Fields(["content-type", "text/plain", "set-cookie", "a=1", "x-n", "1", "set-cookie", "b=2", "x-n", "2"]).toHeaders();
    expect(headers.get("content-type")).toBe("text/plain");
    expect(headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(headers.get("x-n")).toBe("1, 2");
  });

  test("fromHeaders: names lower-cased, each set-cookie its own field", () => {
    const headers = new Headers();
    headers.append("Content-Type", "application/json");
    headers.append("Set-Cookie", "a=1; Path=/");
    headers.append("Set-Cookie", "b=2");
    headers.append("X-Thing", "v");
    const fields = Fields.fromHeaders(headers);
    expect(fields.get("content-type")).toBe("application/json");
    expect(fields.get("x-thing")).toBe("v");
    expect([...fields].filter(([name]) => name === "set-cookie").map(([, value]) => value)).toEqual(["a=1; Path=/", "b=2"]);
    expect(fields.size).toBe(4);
    for (const [name] of fields) expect(name).toBe(name.toLowerCase());
  });

  test("a latin1 value survives toHeaders and fromHeaders byte for byte", () => {
    const value = "caf\xe9 \x80\xff";
    const back = Fields.fromHeaders(new Fields(["x-latin", value]).toHeaders());
    expect(back.get("x-latin")).toBe(value);
  });
});
