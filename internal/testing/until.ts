/**
 * Polls `check` until it answers something truthy, and answers that; throws after `timeoutMs`
 * naming `what` was awaited. For tests that wait on something another process or a timer does.
 */
export async function until<T>(
  check: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result) return result;
    if (Date.now() > deadline) throw new Error(`${options.what ?? "condition"} not reached within ${timeoutMs} ms`);
    await Bun.sleep(options.intervalMs ?? 50);
  }
}
