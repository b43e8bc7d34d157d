import { describe, expect, test } from "bun:test";
import { seededRandom } from "../testing/seeded-random.ts";
import { ChunkedDecoder, ChunkedError, LAST_CHUNK, encodeChunk } from "./chunked.ts";
import { latin1, patternBytes, testSeeds, withSeed } from "./test-support.ts";

interface Decoded {
  data: Buffer;
  /** Bytes of the input the decoder took. */
  used: number;
  done: boolean;
  /** How many emit calls. */
  pieces: number;
}

/** Feeds `input` to a fresh decoder cut at `cuts` (ascending offsets), as a socket would deliver it. */
function decode(input: Uint8Array, cuts: readonly number[] = []): Decoded {
  const decoder = new ChunkedDecoder();
  const out: Buffer[] = [];
  let used = 0;
  let pieces = 0;
  let from = 0;
  for (const to of [...cuts, input.length]) {
    if (to < from) continue;
    // Each piece is its own buffer, as each socket read is.
    const piece = Buffer.from(input.subarray(from, to));
    const at = decoder.push(piece, 0, (chunk) => {
      pieces++;
      out.push(Buffer.from(chunk));
    });
    expect(at).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThanOrEqual(piece.length);
    used += at;
    from = to;
    if (decoder.done) break;
  }
  return { data: Buffer.concat(out), used, done: decoder.done, pieces };
}

function decodeText(input: string, cuts: readonly number[] = []): Decoded {
  return decode(latin1(input), cuts);
}

function refused(input: string | Uint8Array): ChunkedError {
  const bytes = typeof input === "string" ? latin1(input) : input;
  try {
    decode(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(ChunkedError);
    expect((error as ChunkedError).name).toBe("ChunkedError");
    return error as ChunkedError;
  }
  throw new Error(`expected a ChunkedError for ${JSON.stringify(Buffer.from(bytes).toString("latin1").slice(0, 80))}`);
}

/** A body with the features a decoder must get right at every byte: sizes in both cases, extensions, BWS, trailers. */
const RICH = "5\r\nhello\r\nA;name=value;other\r\n, chunked!\r\n1 ; x=\"q s\"\r\n?\r\n000\r\nTrailer-One: a\r\nTrailer-Two: b\r\n\r\n";
const RICH_DATA = "hello, chunked!?";
const NEXT = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

describe("ChunkedDecoder: well-formed bodies", () => {
  test("chunks, the last chunk and the empty trailer section", () => {
    const input = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    const result = decodeText(input);
    expect(result.data.toString("latin1")).toBe("hello world");
    expect(result.done).toBe(true);
    expect(result.used).toBe(input.length);
  });

  test("an empty body", () => {
    const result = decodeText("0\r\n\r\n");
    expect(result.data.length).toBe(0);
    expect(result.done).toBe(true);
    expect(result.pieces).toBe(0);
  });

  test("hex sizes in upper and lower case, with leading zeros up to 12 digits", () => {
    const data = patternBytes(0xab);
    for (const size of ["ab", "AB", "aB", "00000000ab", "0000000000ab"]) {
      const input = Buffer.concat([latin1(`${size}\r\n`), data, latin1("\r\n0\r\n\r\n")]);
      const result = decode(input);
      expect(result.data.equals(data)).toBe(true);
      expect(result.done).toBe(true);
    }
  });

  test("extensions (with and without BWS, quoted values) are read and dropped", () => {
    expect(decodeText(RICH).data.toString("latin1")).toBe(RICH_DATA);
    expect(decodeText("3;a\r\nabc\r\n0;last=1\r\n\r\n").data.toString("latin1")).toBe("abc");
    expect(decodeText("3\t;a\r\nabc\r\n0 ;b\r\n\r\n").data.toString("latin1")).toBe("abc");
    expect(decodeText("3;obs=\xe9\xff\r\nabc\r\n0\r\n\r\n").data.toString("latin1")).toBe("abc");
  });

  test("trailer fields are read and dropped", () => {
    const result = decodeText("3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nX-Other:\tv\r\n\r\n");
    expect(result.data.toString("latin1")).toBe("abc");
    expect(result.done).toBe(true);
  });

  test("payload is handed on as views into the pushed buffer, not copies", () => {
    const input = latin1("5\r\nhello\r\n0\r\n\r\n");
    const decoder = new ChunkedDecoder();
    const seen: Uint8Array[] = [];
    decoder.push(input, 0, (chunk) => seen.push(chunk));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.buffer).toBe(input.buffer);
    expect(seen[0]!.byteOffset).toBe(input.byteOffset + 3);
  });

  test("bytes after the end of the body are not consumed, now or later", () => {
    const input = latin1(RICH + NEXT);
    const decoder = new ChunkedDecoder();
    const at = decoder.push(input, 0, () => {});
    expect(at).toBe(RICH.length);
    expect(decoder.done).toBe(true);
    expect(input.subarray(at).toString("latin1")).toBe(NEXT);
    // A done decoder takes nothing more.
    let emitted = 0;
    expect(decoder.push(input, at, () => emitted++)).toBe(at);
    expect(decoder.push(latin1("5\r\nhello\r\n"), 0, () => emitted++)).toBe(0);
    expect(emitted).toBe(0);
  });

  test("push starts at the given offset", () => {
    const input = latin1(`JUNK${"3\r\nabc\r\n0\r\n\r\n"}`);
    const out: string[] = [];
    const decoder = new ChunkedDecoder();
    expect(decoder.push(input, 4, (chunk) => out.push(Buffer.from(chunk).toString("latin1")))).toBe(input.length);
    expect(out.join("")).toBe("abc");
    expect(decoder.done).toBe(true);
  });

  test("a body arriving one byte at a time", () => {
    const input = latin1(RICH + NEXT);
    const cuts = Array.from({ length: input.length - 1 }, (_, i) => i + 1);
    const result = decode(input, cuts);
    expect(result.data.toString("latin1")).toBe(RICH_DATA);
    expect(result.done).toBe(true);
    expect(result.used).toBe(RICH.length);
  });

  test("a body cut in two at every possible place, and in three at every pair of places", () => {
    const input = latin1(RICH + NEXT);
    for (let a = 0; a <= input.length; a++) {
      const result = decode(input, [a]);
      if (result.data.toString("latin1") !== RICH_DATA || result.used !== RICH.length || !result.done) throw new Error(`wrong result cutting at ${a}`);
    }
    const body = latin1(RICH);
    for (let a = 1; a < body.length; a++) {
      for (let b = a; b < body.length; b++) {
        const result = decode(body, [a, b]);
        if (result.data.toString("latin1") !== RICH_DATA || result.used !== RICH.length || !result.done) throw new Error(`wrong result cutting at ${a} and ${b}`);
      }
    }
  });

  test.each(testSeeds([1, 2, 3, 0x5eed, 20260101, 987654321]))("random bodies cut at random places decode to what was encoded (seed %i)", (seed) => {
    withSeed(seed, () => {
      const random = seededRandom(seed);
      for (let round = 0; round < 40; round++) {
        // A body of random chunks (sizes from 1 byte to a few KiB), random extensions and trailers.
        const parts: Buffer[] = [];
        const data: Buffer[] = [];
        const chunks = Math.floor(random() * 8);
        for (let i = 0; i < chunks; i++) {
          const size = 1 + Math.floor(random() * (random() < 0.3 ? 4096 : 40));
          const payload = patternBytes(size, Math.floor(random() * 1e9) + 1);
          data.push(payload);
          const hex = size.toString(16);
          const sizeText = random() < 0.5 ? hex.toUpperCase() : hex;
          const ext = random() < 0.3 ? `;e${i}=${Math.floor(random() * 100)}` : "";
          parts.push(latin1(`${sizeText}${ext}\r\n`), payload, latin1("\r\n"));
        }
        parts.push(latin1(random() < 0.3 ? "0\r\nX-T: 1\r\n\r\n" : "0\r\n\r\n"));
        const body = Buffer.concat(parts);
        const input = Buffer.concat([body, latin1(NEXT)]);
        const cuts: number[] = [];
        for (let at = 0; at < input.length; ) {
          at += 1 + Math.floor(random() * (random() < 0.5 ? 8 : 700));
          if (at < input.length) cuts.push(at);
        }
        const result = decode(input, cuts);
        expect(result.done).toBe(true);
        expect(result.used).toBe(body.length);
        expect(result.data.equals(Buffer.concat(data))).toBe(true);
      }
    });
  });
});

describe("ChunkedDecoder: malformed bodies throw ChunkedError", () => {
  test.each([
    ["a non-hex size", "g\r\nabc\r\n0\r\n\r\n"],
    ["a size with a non-hex digit after hex", "5g\r\nhello\r\n0\r\n\r\n"],
    ["a 0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"],
    ["a negative size", "-5\r\nhello\r\n0\r\n\r\n"],
    ["a signed size", "+5\r\nhello\r\n0\r\n\r\n"],
    ["no size at all", "\r\nhello\r\n0\r\n\r\n"],
    ["an extension without a size", ";ext\r\nhello\r\n0\r\n\r\n"],
    ["whitespace before the size", " 5\r\nhello\r\n0\r\n\r\n"],
    ["a size line ending with bare LF", "5\nhello\r\n0\r\n\r\n"],
    ["a CR not followed by LF after the size", "5\r\rhello\r\n0\r\n\r\n"],
    ["a CR then another byte after the size", "5\rXhello\r\n0\r\n\r\n"],
    ["data longer than its size", "5\r\nhelloX\r\n0\r\n\r\n"],
    ["data shorter than its size", "5\r\nhell\r\n0\r\n\r\n"],
    ["data followed by a bare LF", "5\r\nhello\n0\r\n\r\n"],
    ["data followed by CR and not LF", "5\r\nhello\rX0\r\n\r\n"],
    ["13 size digits", "0000000000005\r\nhello\r\n0\r\n\r\n"],
    ["a huge size", "fffffffffffff\r\n"],
    ["a bare LF in an extension", "5;a\nb\r\nhello\r\n0\r\n\r\n"],
    ["a control character in an extension", "5;a\x01\r\nhello\r\n0\r\n\r\n"],
    ["NUL in an extension", "5;\x00\r\nhello\r\n0\r\n\r\n"],
    ["DEL in an extension", "5;\x7f\r\nhello\r\n0\r\n\r\n"],
    ["a trailer line starting with a space (obs-fold)", "0\r\n X: 1\r\n\r\n"],
    ["a trailer line starting with a tab", "0\r\n\tX: 1\r\n\r\n"],
    ["a bare LF starting the trailer section", "0\r\n\n"],
    ["a bare LF inside a trailer line", "0\r\nX: a\nY: b\r\n\r\n"],
    ["NUL inside a trailer line", "0\r\nX: \x00\r\n\r\n"],
    ["a trailer line's CR without LF", "0\r\nX: 1\rY\r\n\r\n"],
    ["the final CR without LF", "0\r\n\rX"],
    ["the final CRLF as a bare LF after a trailer", "0\r\nX: 1\r\n\n"],
  ])("%s", (_, input) => {
    refused(input);
  });

  test("a size followed by whitespace and then not ';' is not the chunk-ext grammar (RFC 9112 §7.1.1)", () => {
    // chunk = chunk-size [ chunk-ext ] CRLF; chunk-ext = *( BWS ";" ... ): after BWS only ";" may come.
    // Read leniently, "5 5" is a 5-byte chunk to this decoder and may be a 0x55-byte one (or an
    // error) to another; a strict decoder refuses it.
    refused("5 5\r\nhello\r\n0\r\n\r\n");
  });

  test("4096 bytes of extensions pass; more are refused", () => {
    expect(decodeText(`1;${"e".repeat(4095)}\r\na\r\n0\r\n\r\n`).data.toString("latin1")).toBe("a");
    const error = refused(`1;${"e".repeat(4097)}\r\na\r\n0\r\n\r\n`);
    expect(error.message).toMatch(/extension/);
  });

  test("extensions are bounded per body, not only per chunk", () => {
    // Many small chunks each with a short extension add up: a body of tiny chunks with 100-byte
    // extensions is a cheap way to make a server do work for no payload.
    const chunk = `1;${"e".repeat(99)}\r\na\r\n`;
    refused(`${chunk.repeat(50)}0\r\n\r\n`);
  });

  test("a trailer section up to 16 KiB passes; a longer one is refused", () => {
    expect(decodeText(`0\r\nX: ${"v".repeat(16_000)}\r\n\r\n`).done).toBe(true);
    const error = refused(`0\r\nX: ${"v".repeat(16_400)}\r\n\r\n`);
    expect(error.message).toMatch(/trailer/);
    // many short trailer lines count together
    refused(`0\r\n${"X: 1234567890\r\n".repeat(2000)}\r\n`);
  });

  test("a malformed body is refused however it is cut", () => {
    const input = latin1("5\r\nhello\r\n3\r\nabcX\r\n0\r\n\r\n");
    for (let a = 1; a < input.length; a++) {
      expect(() => decode(input, [a])).toThrow(ChunkedError);
    }
  });
});

describe("encodeChunk", () => {
  test("size line in lower-case hex, data, CRLF", () => {
    expect(encodeChunk(latin1("hello")).toString("latin1")).toBe("5\r\nhello\r\n");
    expect(encodeChunk(new Uint8Array(255)).subarray(0, 4).toString("latin1")).toBe("ff\r\n");
    expect(encodeChunk(new Uint8Array(256)).subarray(0, 5).toString("latin1")).toBe("100\r\n");
    const big = encodeChunk(new Uint8Array(65_536));
    expect(big.subarray(0, 7).toString("latin1")).toBe("10000\r\n");
    expect(big.length).toBe(7 + 65_536 + 2);
    expect(big.subarray(big.length - 2).toString("latin1")).toBe("\r\n");
  });

  test("an empty chunk encodes as the last chunk, which is why writers must skip empty chunks", () => {
    expect(encodeChunk(new Uint8Array(0)).equals(LAST_CHUNK)).toBe(true);
    expect(LAST_CHUNK.toString("latin1")).toBe("0\r\n\r\n");
  });

  test("the encoded bytes do not alias the input", () => {
    const data = latin1("abc");
    const out = encodeChunk(data);
    data[0] = 0x7a;
    expect(out.toString("latin1")).toBe("3\r\nabc\r\n");
  });

  test.each(testSeeds([7, 8, 9]))("encoded chunks round-trip through the decoder, cut anywhere (seed %i)", (seed) => {
    withSeed(seed, () => {
      const random = seededRandom(seed);
      for (let round = 0; round < 20; round++) {
        const payloads = Array.from({ length: 1 + Math.floor(random() * 6) }, () => patternBytes(1 + Math.floor(random() * 5000), 1 + Math.floor(random() * 1e6)));
        const wire = Buffer.concat([...payloads.map((p) => encodeChunk(p)), LAST_CHUNK]);
        const cuts: number[] = [];
        for (let at = 0; at < wire.length; ) {
          at += 1 + Math.floor(random() * 300);
          if (at < wire.length) cuts.push(at);
        }
        const result = decode(wire, cuts);
        expect(result.done).toBe(true);
        expect(result.used).toBe(wire.length);
        expect(result.data.equals(Buffer.concat(payloads))).toBe(true);
      }
    });
  });
});
