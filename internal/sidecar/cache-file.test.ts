import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CacheFileError, loadCache, saveCache } from "./cache-file.ts";

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const state = {
  nodeId: "n1",
  savedAt: new Date().toISOString(),
  revision: 42,
  appliedAt: null,
  items: [{ key: "config/a", value: { ms: 250 } }],
  credentials: { entries: [] },
};

describe("cache file", () => {
  test("round trip, without temporary files left behind", () => {
    dir = mkdtempSync(join(tmpdir(), "nagent-cache-"));
    expect(loadCache(dir, "n1")).toBeUndefined();
    saveCache(join(dir, "nested"), state);
    expect(loadCache(join(dir, "nested"), "n1")).toEqual({ format: 1, ...state });
    expect(readdirSync(join(dir, "nested"))).toEqual(["state.json"]);
  });

  test("a torn or foreign file is refused with the reason, and the last good copy survives a failed write", () => {
    dir = mkdtempSync(join(tmpdir(), "nagent-cache-"));
    writeFileSync(join(dir, "state.json"), '{"format":1,"nodeId":"n1","rev');
    expect(() => loadCache(dir, "n1")).toThrow(CacheFileError);
    expect(() => loadCache(dir, "n1")).toThrow("is not valid JSON");
    saveCache(dir, { ...state, nodeId: "other" });
    expect(() => loadCache(dir, "n1")).toThrow("belongs to node other");
    writeFileSync(join(dir, "state.json"), JSON.stringify({ format: 9 }));
    expect(() => loadCache(dir, "n1")).toThrow("not a sidecar cache");
    saveCache(dir, state);
    // A write that cannot complete (its temporary file cannot be created) throws and keeps the old copy.
    mkdirSync(join(dir, "state.json.tmp"));
    expect(() => saveCache(dir, { ...state, revision: 43 })).toThrow();
    expect(existsSync(join(dir, "state.json"))).toBe(true);
    expect(loadCache(dir, "n1")?.revision).toBe(42);
  });
});
