// The cache fallback's store (LRU, byte limits, age) and the recorder that fills it as a body is read.
import { describe, expect, test } from "bun:test";
import { Fields, fromFetchResponse, toFetchResponse, type BodySource, type HttpResponse } from "../../http1/index.ts";
import { FakeTime } from "./fake-time.ts";
import { LastGoodResponses, type ResponseSnapshot } from "./last-good-responses.ts";
import { recordResponse } from "./response-recorder.ts";

const bytes = (n: number) => new Uint8Array(n).fill(7);
const snap = (body: Uint8Array, storedAt = 0): ResponseSnapshot => ({ status: 200, headers: [], body, storedAt });

describe("LastGoodResponses", () => {
  test("evicts the least recently used entry beyond maxEntries; recall counts as a use", () => {
    const cache = new LastGoodResponses({ maxEntries: 2, clock: new FakeTime() });
    cache.remember("a", snap(bytes(1)));
    cache.remember("b", snap(bytes(1)));
    expect(cache.recall("a", 1000)).toBeDefined();
    cache.remember("c", snap(bytes(1)));
    expect(cache.recall("b", 1000)).toBeUndefined();
    expect(cache.recall("a", 1000)).toBeDefined();
    expect(cache.recall("c", 1000)).toBeDefined();
  });

  test("keeps the total under maxBytes and refuses entries over maxEntryBytes", () => {
    const cache = new LastGoodResponses({ maxBytes: 100, maxEntryBytes: 60, clock: new FakeTime() });
    expect(cache.remember("a", snap(bytes(39)))).toBe(true); // 40 with the key
    expect(cache.remember("b", snap(bytes(39)))).toBe(true);
    expect(cache.remember("c", snap(bytes(39)))).toBe(true);
    expect(cache.size).toBe(2);
    expect(cache.bytes).toBe(80);
    expect(cache.recall("a", 1000)).toBeUndefined();
    expect(cache.remember("b", snap(bytes(60)))).toBe(false);
    expect(cache.recall("b", 1000)).toBeUndefined(); // the older b is no longer the last good one
    expect(cache.bytes).toBe(40);
  });

  test("recall never returns an entry maxAgeMs old or older", () => {
    const time = new FakeTime();
    const cache = new LastGoodResponses({ clock: time });
    cache.remember("a", snap(bytes(1), time.now()));
    time.advance(999);
    expect(cache.recall("a", 1000)).toBeDefined();
    time.advance(1);
    expect(cache.recall("a", 1000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});

describe("recordResponse", () => {
  const chunked = (chunks: string[]) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
        controller.close();
      },
    });
  const record = (response: Response, cache: LastGoodResponses) => recordResponse(fromFetchResponse(response), "/k", cache);

  test("stores a streamed body once the caller has read it, without set-cookie", async () => {
    const cache = new LastGoodResponses({ clock: new FakeTime() });
    const response = record(new Response(chunked(["hel", "lo ", "world"]), { status: 200, headers: { "x-a": "1", "set-cookie": "s=1" } }), cache);
    expect(cache.size).toBe(0);
    expect(await toFetchResponse(response).text()).toBe("hello world");
    const stored = cache.recall("/k", 1000);
    expect(new TextDecoder().decode(stored?.body)).toBe("hello world");
    expect(stored?.headers).toContainEqual(["x-a", "1"]);
    expect(stored?.headers.some(([name]) => name === "set-cookie")).toBe(false);
  });

  test("stores a body at hand at once, as a copy", () => {
    const cache = new LastGoodResponses({ clock: new FakeTime() });
    const bytes = new TextEncoder().encode("items");
    const response: HttpResponse = { status: 200, headers: Fields.from({ "content-type": "text/plain" }), body: bytes };
    expect(recordResponse(response, "/k", cache)).toBe(response);
    bytes[0] = 0x58; // the socket's buffer being reused must not change the stored copy
    expect(new TextDecoder().decode(cache.recall("/k", 1000)?.body)).toBe("items");
  });

  test("a body over the per-entry limit passes through whole and is not stored", async () => {
    const cache = new LastGoodResponses({ maxEntryBytes: 1000, clock: new FakeTime() });
    const big = "x".repeat(700);
    const response = record(new Response(chunked([big, big])), cache);
    expect(await toFetchResponse(response).text()).toBe(big + big);
    expect(cache.size).toBe(0);
    const declared = fromFetchResponse(new Response("y".repeat(2000), { headers: { "content-length": "2000" } }));
    expect(recordResponse(declared, "/k", cache)).toBe(declared);
    const atHand: HttpResponse = { status: 200, headers: new Fields(), body: new Uint8Array(2000) };
    expect(recordResponse(atHand, "/k", cache)).toBe(atHand);
    expect(cache.size).toBe(0);
  });

  test("cache-control: no-store is respected; an abandoned body is not stored", async () => {
    const cache = new LastGoodResponses({ clock: new FakeTime() });
    const noStore = fromFetchResponse(new Response("a", { headers: { "cache-control": "private, no-store" } }));
    expect(recordResponse(noStore, "/k", cache)).toBe(noStore);
    const abandoned = record(new Response(chunked(["a", "b"])), cache);
    (abandoned.body as BodySource).cancel(new Error("the caller went away"));
    await Bun.sleep(1);
    expect(cache.size).toBe(0);
  });
});
