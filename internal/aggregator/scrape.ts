// Reading one target's /metrics: a GET bounded in time and in size, parsed as Prometheus text. A
// target that is slow, refuses, answers an error or garbage is reported as down with the reason,
// never waited for past the timeout and never allowed to fill the aggregator's memory.
import { PromTextError, parsePrometheusText, type Sample } from "./prom-text.ts";

export type ScrapeFailure = "timeout" | "refused" | "http_status" | "malformed";

export type ScrapeResult =
  | { readonly ok: true; readonly samples: readonly Sample[]; readonly seconds: number }
  | { readonly ok: false; readonly reason: ScrapeFailure; readonly message: string; readonly seconds: number };

/** The largest /metrics body read; a larger one is refused as malformed. */
export const MAX_METRICS_BYTES = 8 * 1024 * 1024;

/** GETs `url` (a /metrics endpoint) within `timeoutMs` and parses it. Never rejects. */
export async function scrape(url: string, timeoutMs: number, maxBytes = MAX_METRICS_BYTES): Promise<ScrapeResult> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const signal = AbortSignal.timeout(timeoutMs);
  let text: string;
  try {
    const response = await fetch(url, { signal, headers: { accept: "text/plain;version=0.0.4" } });
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      return { ok: false, reason: "http_status", message: `${url} answered ${response.status}`, seconds: seconds() };
    }
    text = await readLimited(response, maxBytes);
  } catch (error) {
    if (signal.aborted) return { ok: false, reason: "timeout", message: `${url} did not answer within ${timeoutMs} ms`, seconds: seconds() };
    if (error instanceof TooLarge) return { ok: false, reason: "malformed", message: `${url} answered more than ${maxBytes} bytes`, seconds: seconds() };
    return { ok: false, reason: "refused", message: `${url}: ${(error as Error).message}`, seconds: seconds() };
  }
  try {
    return { ok: true, samples: parsePrometheusText(text).samples, seconds: seconds() };
  } catch (error) {
    if (!(error instanceof PromTextError)) throw error;
    return { ok: false, reason: "malformed", message: `${url} is not Prometheus text (line ${error.line}: ${error.message})`, seconds: seconds() };
  }
}

class TooLarge extends Error {}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = response.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw new TooLarge();
  }
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new TooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString("utf8");
}
