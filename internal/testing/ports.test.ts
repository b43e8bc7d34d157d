import { expect, test } from "bun:test";
import { createServer } from "node:net";
import { freePort, freePorts, retryOnPortClash } from "./ports.ts";
import { ServiceStartError } from "./process.ts";

test("freePorts returns distinct ports that can be bound", async () => {
  const ports = await freePorts(5);
  expect(new Set(ports).size).toBe(5);
  for (const port of [...ports, await freePort()]) await expectBindable(port);
});

test("retryOnPortClash retries only bind clashes", async () => {
  let attempts = 0;
  const value = await retryOnPortClash(async () => {
    if (++attempts === 1) throw new ServiceStartError("svc", "exited", "bind: address already in use");
    return "up";
  });
  expect(value).toBe("up");
  expect(attempts).toBe(2);

  let brokenAttempts = 0;
  const broken = retryOnPortClash(async () => {
    brokenAttempts++;
    throw new ServiceStartError("svc", "exited", "bad flag");
  });
  await expect(broken).rejects.toThrow("bad flag");
  expect(brokenAttempts).toBe(1);
});

function expectBindable(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve()));
  });
}
