import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { Registry } from "prom-client";
import { storeConformance } from "../store/conformance.ts";
import { captureLogger } from "../telemetry/index.ts";
import { openRaftStore } from "./raft-store.ts";

storeConformance("raft (one member, the integrated store)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nagent-raftstore-"));
  const app = new Hono();
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
  const { logger } = captureLogger("silent");
  const store = await openRaftStore({
    id: "m1",
    peers: [{ id: "m1", url: `http://127.0.0.1:${server.port}` }],
    dataDir: dir,
    logger,
    registry: new Registry(),
    tickMs: 20,
  });
  store.mount(app);
  return {
    store,
    async cleanup() {
      await store.close();
      void server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
