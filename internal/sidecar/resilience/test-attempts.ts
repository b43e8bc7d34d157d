// Test support: scripted attempt functions on fake time. Each attempt plays the next step of a
// script (the last step repeats) and records what the runtime passed it.
import { fromFetchResponse, type HttpResponse } from "../../http1/index.ts";
import type { Attempt, AttemptContext, AttemptError, AttemptResult } from "./domain-resilience.ts";
import type { FakeTime } from "./fake-time.ts";

export type Step =
  | { readonly status: number; readonly instance?: string; readonly body?: string; readonly headers?: Record<string, string> }
  | { readonly error: AttemptError; readonly instance?: string }
  /** Answers `then` after `ms` of fake time, unless the signal aborts first. */
  | { readonly after: number; readonly then: Step; readonly instance?: string; readonly onAbort?: "reject" | "timeout" }
  /** Never answers; when the signal aborts, rejects with its reason (as fetch does) or returns a timeout. */
  | { readonly hang: "reject" | "timeout"; readonly instance?: string };

export interface SeenAttempt {
  readonly attempt: number;
  readonly exclude: string[];
  readonly signal: AbortSignal;
  readonly at: number;
}

/** An answer whose body stays open until read, and that notes whether it was cancelled. */
export function trackedResponse(status: number, body = "", headers: Record<string, string> = {}): { response: HttpResponse; cancelled: () => boolean } {
  let cancelled = false;
  const bytes = new TextEncoder().encode(body);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
    },
    pull(controller) {
      controller.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { response: fromFetchResponse(new Response(stream, { status, headers })), cancelled: () => cancelled };
}

export class Script {
  readonly seen: SeenAttempt[] = [];
  readonly responses: { status: number; cancelled: () => boolean }[] = [];
  readonly attempt: Attempt;

  constructor(
    private readonly time: FakeTime,
    private readonly steps: readonly Step[],
  ) {
    this.attempt = (ctx) => this.#play(ctx);
  }

  get attempts(): number {
    return this.seen.length;
  }

  #play(ctx: AttemptContext): Promise<AttemptResult> {
    this.seen.push({ attempt: ctx.attempt, exclude: [...ctx.exclude].sort(), signal: ctx.signal, at: this.time.now() });
    const step = this.steps[Math.min(this.seen.length, this.steps.length) - 1];
    if (step === undefined) throw new Error("empty script");
    return this.#step(step, ctx, `i${this.seen.length}`);
  }

  async #step(step: Step, ctx: AttemptContext, instance: string): Promise<AttemptResult> {
    if ("status" in step) {
      const tracked = trackedResponse(step.status, step.body ?? `status ${step.status}`, step.headers);
      this.responses.push({ status: step.status, cancelled: tracked.cancelled });
      return { kind: "response", response: tracked.response, instance: step.instance ?? instance };
    }
    if ("error" in step) return { kind: "error", error: step.error, instance: step.instance ?? instance };
    if ("after" in step) {
      try {
        await this.time.sleep(step.after, ctx.signal);
      } catch (reason) {
        if (step.onAbort === "timeout") return { kind: "error", error: "timeout", instance: step.instance ?? instance };
        throw reason;
      }
      return this.#step(step.then, ctx, step.instance ?? instance);
    }
    const signal = ctx.signal;
    return new Promise((resolve, reject) => {
      const abort = () =>
        step.hang === "reject" ? reject(signal.reason) : resolve({ kind: "error", error: "timeout", instance: step.instance ?? instance });
      if (signal.aborted) abort();
      else signal.addEventListener("abort", abort, { once: true });
    });
  }
}
