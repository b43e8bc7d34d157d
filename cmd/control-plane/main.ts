#!/usr/bin/env bun
// control-plane: one member of the Nagent Mesh control plane.
import { launchDaemon, parseOrExit } from "../../internal/cli/index.ts";
import { controlPlaneCommand } from "../../internal/config/index.ts";
import { AuthAuthority } from "../../internal/auth/index.ts";
import { createControlPlaneApp, resolveAdminCredential, type AdminCredential } from "../../internal/controlplane/index.ts";
import { NodeRegistry, SyncTracker } from "../../internal/registry/index.ts";
import { openRaftStore, type RaftStore } from "../../internal/raftstore/index.ts";
import { createEtcdStore, type Store } from "../../internal/store/index.ts";

const { config } = parseOrExit(controlPlaneCommand);
let store: Store | undefined;
let raftStore: RaftStore | undefined;
let admin: AdminCredential | undefined;
let authority: AuthAuthority | undefined;
let sync: SyncTracker | undefined;

await launchDaemon({
  service: "control-plane",
  nodeId: config.nodeId,
  config,
  async listeners({ logger, metrics }) {
    const self = `http://${config.listen.host === "0.0.0.0" ? "127.0.0.1" : config.listen.host}:${config.listen.port}`;
    const raft =
      config.store === "raft"
        ? await openRaftStore({
            id: config.nodeId,
            peers: config.peers.length > 0 ? config.peers : [{ id: config.nodeId, url: self }],
            dataDir: config.dataDir,
            join: config.join,
            clusterToken: config.clusterToken,
            // A tick of a quarter heartbeat: election timeouts are drawn from 4x more distinct values,
            // so two followers rarely time out in the same tick and split the vote.
            tickMs: config.heartbeatInterval / 4,
            heartbeatTicks: 4,
            snapshotEntries: config.snapshotEntries,
            retainRevisions: config.historyRevisions,
            electionTicks: Math.round((4 * config.electionTimeout) / config.heartbeatInterval),
            ...(config.peerToken ? { peerToken: config.peerToken } : {}),
            logger,
            registry: metrics.registry,
          })
        : undefined;
    raftStore = raft;
    store = raft ?? createEtcdStore({ endpoints: config.etcdEndpoints });
    authority = new AuthAuthority({
      store,
      logger,
      registry: metrics.registry,
      keyRotationIntervalMs: config.keyRotationInterval,
      maxTokenTtlSeconds: Math.floor(config.maxTokenTtl / 1000),
      maxApiKeyTtlSeconds: Math.floor(config.maxApiKeyTtl / 1000),
      defaultTokenTtlSeconds: Math.floor(config.defaultTokenTtl / 1000),
    });
    void authority.start().catch((error: unknown) => logger.error({ err: error }, "the authentication authority cannot start"));
    sync = new SyncTracker(store, { logger });
    const api = createControlPlaneApp({
      store,
      admin: () => admin,
      authority,
      registry: new NodeRegistry(store),
      sync,
      logger,
      metrics,
      maxBodyBytes: config.maxBodyBytes,
    });
    raft?.mount(api.app);
    const resolving = resolveAdminCredential({ configured: config.adminToken, store, dataDir: config.dataDir, logger });
    void resolving.then(
      (credential) => {
        admin = credential;
      },
      (error: unknown) => logger.error({ err: error }, "cannot resolve the admin credential"),
    );
    return [{ name: "api", address: config.listen, daemon: api }];
  },
  onDrain: () => raftStore?.prepareToStop(),
  async onStop() {
    await Promise.all([authority?.stop(), sync?.stop()]);
    await store?.close();
  },
});
