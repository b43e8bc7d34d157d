import { afterEach, describe, expect, test } from "bun:test";
import { BodyError, BodyTooLargeError, bodyLength, bytesSource, fromWebStream, limitBody, observeBody, readBody, toWebStream } from "./body.ts";
import { PushSource, RecordingSink, latin1, patternBytes, runCleanups, sleep, waitUntil } from "./test-support.ts";

afterEach(runCleanups);

const bytes = (s: string) => latin1(s);
const str = (b: Uint8Array) => Buffer.from(b).toString("latin1");

/** A pull-based web stream handing out `chunks` one per pull; records pulls and the cancel reason. */
function countingStream(chunks: readonly Uint8Array[]) {
  const state = { pulls: 0, cancelled: undefined as unknown, cancelCalls: 0 };
  let next = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        state.pulls++;
        if (next < chunks.length) controller.enqueue(chunks[next++]!);
        else controller.close();
      },
      cancel(reason) {
        state.cancelCalls++;
        state.cancelled = reason;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
}

describe("bodyLength", () => {
  test("null is 0, bytes their length, a source its declared length", () => {
    expect(bodyLength(null)).toBe(0);
    expect(bodyLength(bytes("abc"))).toBe(3);
    expect(bodyLength(new Uint8Array(0))).toBe(0);
    expect(bodyLength(new PushSource(12))).toBe(12);
    expect(bodyLength(new PushSource(undefined))).toBeUndefined();
  });
});

describe("readBody", () => {
  test("null reads as empty bytes", async () => {
    const body = await readBody(null, 10);
    expect(body).toBeInstanceOf(Uint8Array);
    expect(body.byteLength).toBe(0);
  });

  test("bytes within the limit come back as they are; over it, BodyTooLargeError with the limit", async () => {
    const data = bytes("hello");
    expect(await readBody(data, 5)).toBe(data);
    const error = await readBody(data, 4).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect((error as BodyTooLargeError).limit).toBe(4);
    expect((error as Error).message).toContain("4");
  });

  test("a source is read whole, its chunks joined in order", async () => {
    const source = new PushSource();
    const reading = readBody(source, 100);
    source.push("hel");
    source.push("lo ");
    source.push(new Uint8Array(0));
    source.push("world");
    source.end();
    expect(str(await reading)).toBe("hello world");
  });

  test("a single chunk is returned without a copy", async () => {
    const source = new PushSource();
    const reading = readBody(source, 100);
    const chunk = bytes("only");
    source.push(chunk);
    source.end();
    expect(await reading).toBe(chunk);
  });

  test("exactly the limit passes", async () => {
    const source = new PushSource();
    const reading = readBody(source, 6);
    source.push("abc");
    source.push("def");
    source.end();
    expect(str(await reading)).toBe("abcdef");
  });

  test("a source that grows past the limit is cancelled and refused; later chunks are turned away", async () => {
    const source = new PushSource();
    const reading = readBody(source, 5);
    expect(source.push("abc")).toBe(true);
    expect(source.push("def")).toBe(false);
    const error = await reading.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect(source.cancels).toBe(1);
    expect(source.cancelled).toBe(error as Error);
    expect(source.push("more")).toBe(false);
    source.end(); // an end after the refusal changes nothing
    expect(source.cancels).toBe(1);
  });

  test("a source whose declared length is over the limit is refused before it is read", async () => {
    const source = new PushSource(1000);
    const error = await readBody(source, 999).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyTooLargeError);
    expect(source.sink).toBeUndefined();
    expect(source.cancelled).toBeInstanceOf(BodyTooLargeError);
  });

  test("a source that breaks off rejects with its error", async () => {
    const source = new PushSource();
    const reading = readBody(source, 100);
    source.push("abc");
    const cause = new BodyError("peer went away");
    source.fail(cause);
    expect(await reading.catch((e: unknown) => e)).toBe(cause);
  });

  test("bytesSource reads back as the same bytes", async () => {
    const data = patternBytes(1000);
    expect(Buffer.from(await readBody(bytesSource(data), 1000)).equals(data)).toBe(true);
  });
});

describe("limitBody", () => {
  test("a source whose declared length is within the limit is returned as it is", () => {
    const source = new PushSource(10);
    expect(limitBody(source, 10)).toBe(source);
  });

  test("chunks pass while within the limit; the sink's answer and resume pass through", () => {
    const source = new PushSource();
    const limited = limitBody(source, 10);
    expect(limited).not.toBe(source);
    expect(limited.length).toBeUndefined();
    const sink = new RecordingSink();
    sink.answer = (_, index) => index !== 1;
    limited.pipe(sink);
    expect(source.push("abc")).toBe(true);
    expect(source.push("def")).toBe(false);
    limited.resume();
    expect(source.resumes).toBe(1);
    expect(source.push("gh")).toBe(true);
    source.end();
    expect(str(sink.bytes)).toBe("abcdefgh");
    expect(sink.ended).toBe(1);
    expect(sink.failures).toEqual([]);
  });

  test("past the limit: the sink fails with BodyTooLargeError, the source is cancelled, nothing more passes", () => {
    const source = new PushSource();
    const limited = limitBody(source, 5);
    const sink = new RecordingSink();
    limited.pipe(sink);
    source.push("abc");
    expect(source.push("def")).toBe(false);
    expect(sink.failures).toHaveLength(1);
    expect(sink.failures[0]).toBeInstanceOf(BodyTooLargeError);
    expect((sink.failures[0] as BodyTooLargeError).limit).toBe(5);
    expect(source.cancelled).toBe(sink.failures[0]!);
    expect(source.push("ghi")).toBe(false);
    source.end();
    source.fail(new Error("late"));
    expect(str(sink.bytes)).toBe("abc");
    expect(sink.ended).toBe(0);
    expect(sink.failures).toHaveLength(1);
    sink.settled.catch(() => {});
  });

  test("a declared length over the limit is still limited as it flows", () => {
    const source = new PushSource(100);
    const limited = limitBody(source, 4);
    expect(limited.length).toBe(100);
    const sink = new RecordingSink();
    limited.pipe(sink);
    source.push("abcde");
    expect(sink.failures[0]).toBeInstanceOf(BodyTooLargeError);
    expect(sink.size).toBe(0);
    sink.settled.catch(() => {});
  });

  test("cancel reaches the source; a failure of the source reaches the sink once", () => {
    const source = new PushSource();
    const limited = limitBody(source, 5);
    const sink = new RecordingSink();
    limited.pipe(sink);
    const reason = new Error("no more");
    limited.cancel(reason);
    expect(source.cancelled).toBe(reason);
    const cause = new BodyError("broke");
    source.fail(cause);
    source.fail(cause);
    expect(sink.failures).toEqual([cause]);
    sink.settled.catch(() => {});
  });
});

describe("observeBody", () => {
  test("the observer sees every chunk and the end; the sink gets the same, with the sink's answers", () => {
    const source = new PushSource(8);
    const seen: string[] = [];
    let ended = 0;
    const observed = observeBody(source, { chunk: (c) => seen.push(str(c)), end: () => ended++, fail: () => {} });
    expect(observed.length).toBe(8);
    const sink = new RecordingSink();
    sink.answer = (_, i) => i === 0;
    observed.pipe(sink);
    expect(source.push("abcd")).toBe(true);
    expect(source.push("efgh")).toBe(false);
    observed.resume();
    expect(source.resumes).toBe(1);
    source.end();
    expect(seen).toEqual(["abcd", "efgh"]);
    expect(ended).toBe(1);
    expect(sink.ended).toBe(1);
    expect(str(sink.bytes)).toBe("abcdefgh");
  });

  test("a failure reaches observer and sink; a cancel reaches observer and source", () => {
    const failures: Error[] = [];
    const source = new PushSource();
    const observed = observeBody(source, { chunk: () => {}, end: () => {}, fail: (e) => failures.push(e) });
    const sink = new RecordingSink();
    observed.pipe(sink);
    const cause = new BodyError("cut");
    source.fail(cause);
    expect(failures).toEqual([cause]);
    expect(sink.failures).toEqual([cause]);
    sink.settled.catch(() => {});

    const other = new PushSource();
    const failures2: Error[] = [];
    const observed2 = observeBody(other, { chunk: () => {}, end: () => {}, fail: (e) => failures2.push(e) });
    observed2.pipe(new RecordingSink());
    const reason = new Error("caller went away");
    observed2.cancel(reason);
    expect(failures2).toEqual([reason]);
    expect(other.cancelled).toBe(reason);
  });
});

describe("bytesSource", () => {
  test("one write of the bytes, then the end; length is the byte length", () => {
    const data = bytes("payload");
    const source = bytesSource(data);
    expect(source.length).toBe(7);
    const sink = new RecordingSink();
    source.pipe(sink);
    expect(sink.chunks).toEqual([data]);
    expect(sink.ended).toBe(1);
  });

  test("empty bytes: no write, just the end", () => {
    const sink = new RecordingSink();
    bytesSource(new Uint8Array(0)).pipe(sink);
    expect(sink.chunks).toHaveLength(0);
    expect(sink.ended).toBe(1);
  });

  test("cancelled before it is piped, it delivers nothing", () => {
    const source = bytesSource(bytes("x"));
    source.cancel(new Error("no"));
    const sink = new RecordingSink();
    source.pipe(sink);
    expect(sink.chunks).toHaveLength(0);
    expect(sink.ended).toBe(0);
    source.resume(); // harmless
  });
});

describe("fromWebStream", () => {
  test("delivers the stream's chunks in order, skips empty ones, then ends; keeps the given length", async () => {
    const { stream } = countingStream([bytes("a"), new Uint8Array(0), bytes("bc"), bytes("def")]);
    const source = fromWebStream(stream, 6);
    expect(source.length).toBe(6);
    expect(fromWebStream(new ReadableStream()).length).toBeUndefined();
    const sink = new RecordingSink();
    source.pipe(sink);
    await sink.settled;
    expect(sink.chunks.map(str)).toEqual(["a", "bc", "def"]);
    expect(sink.ended).toBe(1);
  });

  test("a sink answering false pauses the pull until resume", async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => bytes(String(i)));
    const { stream, state } = countingStream(chunks);
    const source = fromWebStream(stream);
    const sink = new RecordingSink();
    sink.answer = false;
    source.pipe(sink);
    await waitUntil(() => sink.chunks.length === 1, "the first chunk");
    await sleep(30);
    // Paused: no more writes, and the stream was not read ahead beyond what it buffers.
    expect(sink.chunks).toHaveLength(1);
    const pullsWhilePaused = state.pulls;
    expect(pullsWhilePaused).toBeLessThanOrEqual(2);
    source.resume();
    await waitUntil(() => sink.chunks.length === 2, "the second chunk after resume");
    await sleep(30);
    expect(sink.chunks).toHaveLength(2);
    sink.answer = true;
    source.resume();
    await sink.settled;
    expect(sink.chunks.map(str)).toEqual(chunks.map(str));
  });

  test("resume while a read is already under way does not start a second reader", async () => {
    const chunks = Array.from({ length: 50 }, (_, i) => bytes(`${i},`));
    const { stream } = countingStream(chunks);
    const source = fromWebStream(stream);
    const sink = new RecordingSink();
    source.pipe(sink);
    for (let i = 0; i < 20; i++) source.resume();
    await sink.settled;
    expect(str(sink.bytes)).toBe(chunks.map(str).join(""));
  });

  test("an erroring stream fails the sink with its error; a non-Error becomes a BodyError", async () => {
    const cause = new Error("upstream broke");
    const failing = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes("partial"));
        controller.error(cause);
      },
    });
    const sink = new RecordingSink();
    fromWebStream(failing).pipe(sink);
    expect(await sink.settled.catch((e: unknown) => e)).toBe(cause);

    const odd = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.error("a string");
      },
    });
    const sink2 = new RecordingSink();
    fromWebStream(odd).pipe(sink2);
    const error = await sink2.settled.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BodyError);
    expect((error as Error).message).toContain("a string");
  });

  test("cancel reaches the underlying stream with the reason, and the sink hears nothing more", async () => {
    const { stream, state } = countingStream(Array.from({ length: 100 }, () => bytes("x")));
    const source = fromWebStream(stream);
    const sink = new RecordingSink();
    sink.answer = false;
    source.pipe(sink);
    await waitUntil(() => sink.chunks.length === 1, "the first chunk");
    const reason = new Error("client went away");
    source.cancel(reason);
    source.cancel(reason);
    await waitUntil(() => state.cancelCalls > 0, "the stream's cancel");
    expect(state.cancelled).toBe(reason);
    expect(state.cancelCalls).toBe(1);
    source.resume();
    await sleep(20);
    expect(sink.chunks).toHaveLength(1);
    expect(sink.ended).toBe(0);
    expect(sink.failures).toHaveLength(0);
  });

  test("cancel during a pending read: the read's answer is dropped, the stream is cancelled", async () => {
    let cancelled: unknown;
    const stream = new ReadableStream<Uint8Array>({
      pull: () => new Promise(() => {}), // never produces
      cancel(reason) {
        cancelled = reason;
      },
    });
    const source = fromWebStream(stream);
    const sink = new RecordingSink();
    source.pipe(sink);
    await sleep(10);
    const reason = new Error("stop");
    source.cancel(reason);
    await waitUntil(() => cancelled !== undefined, "the stream's cancel");
    expect(cancelled).toBe(reason);
    await sleep(10);
    expect(sink.ended + sink.failures.length).toBe(0);
  });
});

describe("toWebStream", () => {
  test("a source's chunks are the stream's, and its end closes it", async () => {
    const source = new PushSource();
    const stream = toWebStream(source);
    const reader = stream.getReader();
    await waitUntil(() => source.sink !== undefined, "the source being piped");
    source.push("ab");
    source.push("cd");
    source.end();
    const parts: string[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(str(value));
    }
    expect(parts).toEqual(["ab", "cd"]);
  });

  test("a failing source errors the stream with its error", async () => {
    const source = new PushSource();
    const stream = toWebStream(source);
    await waitUntil(() => source.sink !== undefined, "the source being piped");
    const cause = new BodyError("cut short");
    source.push("x");
    const reader = stream.getReader();
    expect(str((await reader.read()).value!)).toBe("x");
    source.fail(cause);
    expect(await reader.read().catch((e: unknown) => e)).toBe(cause);
  });

  test("backpressure: write answers false past the high-water mark, and the source is resumed as the reader drains it", async () => {
    const source = new PushSource();
    const stream = toWebStream(source);
    await waitUntil(() => source.sink !== undefined, "the source being piped");
    const chunk = new Uint8Array(16_384);
    let accepted = 0;
    while (source.push(chunk)) {
      accepted++;
      if (accepted > 100) throw new Error("write never answered false");
    }
    // 64 KiB high-water mark: the fourth 16 KiB chunk fills it.
    expect(accepted).toBe(3);
    const resumesBefore = source.resumes;
    const reader = stream.getReader();
    let read = 0;
    while (read < 4 * 16_384) read += (await reader.read()).value!.byteLength;
    await waitUntil(() => source.resumes > resumesBefore, "resume after the reader drained the queue");
    source.end();
    expect((await reader.read()).done).toBe(true);
  });

  test("cancelling the stream cancels the source: an Error reason as it is, anything else as a BodyError", async () => {
    const source = new PushSource();
    const stream = toWebStream(source);
    const reason = new Error("reader gone");
    await stream.cancel(reason);
    expect(source.cancelled).toBe(reason);

    const other = new PushSource();
    await toWebStream(other).cancel("plain string");
    expect(other.cancelled).toBeInstanceOf(BodyError);
    expect(other.cancelled!.message).toContain("plain string");
  });

  test("cancellation passes through both conversions down to the original stream", async () => {
    const { stream, state } = countingStream(Array.from({ length: 1000 }, () => bytes("y")));
    const web = toWebStream(fromWebStream(stream));
    const reader = web.getReader();
    expect(str((await reader.read()).value!)).toBe("y");
    const reason = new Error("done with it");
    await reader.cancel(reason);
    await waitUntil(() => state.cancelCalls > 0, "the original stream's cancel");
    expect(state.cancelled).toBe(reason);
  });

  test("a body round-trips through toWebStream and fromWebStream byte for byte", async () => {
    const data = patternBytes(300_000, 42);
    const source = new PushSource(data.length);
    const back = fromWebStream(toWebStream(source), data.length);
    const reading = readBody(back, data.length);
    await waitUntil(() => source.sink !== undefined, "the source being piped");
    for (let at = 0; at < data.length; at += 7_000) {
      if (!source.push(data.subarray(at, at + 7_000))) await source.nextResume();
    }
    source.end();
    expect(Buffer.from(await reading).equals(data)).toBe(true);
  });
});
