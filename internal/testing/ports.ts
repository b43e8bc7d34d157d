import { createServer, type Server } from "node:net";
import { ServiceStartError } from "./process.ts";

/**
 * Asks the kernel for an unused loopback TCP port. Real services under test listen on such ports
 * so that suites never collide with each other or with daemons already running on the machine.
 * The port is released before it is returned, so another process could in principle take it
 * first; `retryOnPortClash` covers that small window.
 */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error("freePorts(1) returned no port");
  return port;
}

/**
 * Returns `count` distinct free loopback ports. All listeners stay open until every port has been
 * read, which is what guarantees the ports differ (closing one before opening the next would let
 * the kernel hand out the same number twice).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnEphemeralPort());
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(closeServer));
  }
}

/** Whether `port` on loopback can be listened on now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * An offset (20000 to 39999) that moves each of `ports` onto a free one, for a program with fixed
 * default ports and a --port-offset flag, so that a test never meets a copy already running.
 */
export async function freePortOffset(ports: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const offset = 20_000 + Math.floor(Math.random() * 20_000);
    if ((await Promise.all(ports.map((port) => portFree(port + offset)))).every(Boolean)) return offset;
  }
  throw new Error("no free port offset found");
}

function listenOnEphemeralPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error(`unexpected listener address: ${String(address)}`);
  }
  return address.port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Runs `start` again (with whatever fresh ports it picks) when the service failed only because its
 * port was taken between `freePorts` and the bind. Any other failure is rethrown at once, so a
 * genuinely broken service still fails fast with its own output.
 */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      const clash = error instanceof ServiceStartError && PORT_CLASH.test(error.output);
      if (!clash || attempt >= attempts) throw error;
    }
  }
}

const PORT_CLASH = /address already in use/i;
