// The clock of scripts/bench/proxy-open-loop.ts, in a worker thread: it sleeps on a futex
// (Atomics.wait takes fractional milliseconds) until each scheduled send time and posts the
// request's index. Timers on the main thread fire on whole milliseconds and late; a spinning
// loop would be exact but burn a core the proxies under test need.
declare const self: Worker;

export interface TickerStart {
  /** Absolute time (performance.timeOrigin + performance.now()) of request 0. */
  readonly startAbs: number;
  readonly intervalMs: number;
  readonly count: number;
}

self.onmessage = (event: MessageEvent<TickerStart>) => {
  const { startAbs, intervalMs, count } = event.data;
  const futex = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < count; i++) {
    const wait = startAbs + i * intervalMs - (performance.timeOrigin + performance.now());
    if (wait > 0) Atomics.wait(futex, 0, 0, wait);
    postMessage(i);
  }
};
