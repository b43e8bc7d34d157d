// The Redis tier, shared by the sidecars that name the same --redis-url: decisions by token hash,
// an index from credential id to those hashes (so a revocation can delete them), and a channel on
// which revocations travel between sidecars. Redis is an optimisation, never a dependency: a
// command that cannot be answered within a short timeout fails at once (no offline queue, no
// retries), the caller goes on to the control plane, and ioredis reconnects in the background.
// Trouble is logged once per change of state, not per request.
//
// Redis is trusted like the control plane: whoever can write to it can plant an API-key decision.
import type Redis from "ioredis";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../telemetry/index.ts";
import { decodeShared, encodeShared, type SharedDecision } from "./persisted.ts";

/** The pub/sub channel revoked credential ids are published on. */
export const REVOCATION_CHANNEL = "nagent:revocations";
/** Key of a decision: this prefix + hex SHA-256 of the token. */
export const DECISION_PREFIX = "nagent:auth:decision:";
/** Key of the set of decision hashes for one credential id. */
export const BY_ID_PREFIX = "nagent:auth:by-id:";

export type SharedCacheState = "connecting" | "up" | "down";

export interface SharedCacheOptions {
  readonly url: string;
  readonly logger: Logger;
  /** The longest a decision is kept; also the lifetime of the by-id index. */
  readonly ttlMs: number;
  readonly commandTimeoutMs: number;
  /** This verifier's id, to ignore its own revocation messages. */
  readonly origin: string;
  /** A revocation published by another sidecar; `untilMs` is how long it needs remembering, when known. */
  readonly onRevocation: (id: string, untilMs: number | undefined) => void;
}

/** Thrown by `get` when Redis cannot be asked right now. */
export class SharedCacheUnavailableError extends Error {
  override readonly name = "SharedCacheUnavailableError";
}

export class SharedCache {
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly commands: HealthLog;
  private readonly channel: HealthLog;
  private garbageLogged = false;

  constructor(private readonly options: SharedCacheOptions) {
    const common = {
      connectTimeout: 1_000,
      // Back off to one attempt every 2 s while Redis is away; never give up.
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
      lazyConnect: false,
    };
    // Loaded here, not at the top: a sidecar without --redis-url never loads the Redis client.
    const RedisClient = loadRedis();
    this.client = new RedisClient(options.url, {
      ...common,
      connectionName: "nagent-sidecar-auth",
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs,
    });
    // The subscriber only ever sends SUBSCRIBE: let it wait for a connection and resubscribe after each reconnect.
    this.subscriber = new RedisClient(options.url, {
      ...common,
      connectionName: "nagent-sidecar-revocations",
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: true,
    });
    this.commands = new HealthLog(options.logger, "the shared token cache (Redis)");
    this.channel = new HealthLog(options.logger, "the revocation channel (Redis)");
    this.watch(this.client, this.commands);
    this.watch(this.subscriber, this.channel);
    this.subscriber.on("message", (channel: string, message: string) => {
      if (channel === REVOCATION_CHANNEL) this.receive(message);
    });
    this.subscriber.subscribe(REVOCATION_CHANNEL).catch((error: unknown) => this.channel.down(error));
  }

  get state(): SharedCacheState {
    return this.commands.state === "unknown" ? "connecting" : this.commands.state;
  }

  /** The decision stored under the hash, or undefined. Throws when Redis is unreachable, slow, or holds garbage. */
  async get(hash: string): Promise<SharedDecision | undefined> {
    if (this.client.status !== "ready") throw new SharedCacheUnavailableError(`redis is ${this.client.status}`);
    let raw: string | null;
    try {
      raw = await this.client.get(DECISION_PREFIX + hash);
    } catch (error) {
      this.commands.down(error);
      throw error;
    }
    this.commands.up();
    if (raw === null) return undefined;
    try {
      return decodeShared(raw);
    } catch (error) {
      if (!this.garbageLogged) {
        this.garbageLogged = true;
        this.options.logger.warn({ error: describe(error) }, "the shared token cache holds values this sidecar cannot read; ignoring them");
      }
      throw error;
    }
  }

  /** Stores a decision for `ttlMs` and indexes it by credential id. Best effort: never rejects. */
  async put(hash: string, decision: SharedDecision, ttlMs: number): Promise<void> {
    if (this.client.status !== "ready" || ttlMs <= 0) return;
    const index = BY_ID_PREFIX + decision.claims.id;
    try {
      const results = await this.client
        .multi()
        .set(DECISION_PREFIX + hash, encodeShared(decision), "PX", Math.ceil(ttlMs))
        .sadd(index, hash)
        // Every decision in the index lives at most ttlMs from now, so the index outlives them all.
        .pexpire(index, this.options.ttlMs)
        .exec();
      const failed = results?.find(([error]) => error !== null)?.[0];
      if (failed) throw failed;
      this.commands.up();
    } catch (error) {
      this.commands.down(error);
    }
  }

  /** Deletes the credential's decisions and tells the other sidecars. Best effort: never rejects. */
  async revoke(id: string, untilMs: number): Promise<void> {
    if (this.client.status !== "ready") return;
    try {
      await this.client.publish(REVOCATION_CHANNEL, JSON.stringify({ id, until: untilMs, origin: this.options.origin }));
      const index = BY_ID_PREFIX + id;
      const hashes = await this.client.smembers(index);
      await this.client.del(index, ...hashes.map((hash) => DECISION_PREFIX + hash));
      this.commands.up();
    } catch (error) {
      this.commands.down(error);
    }
  }

  /** Quits both connections (or drops them when Redis does not answer). */
  async close(): Promise<void> {
    this.commands.silenced = true;
    this.channel.silenced = true;
    await Promise.all([quit(this.client), quit(this.subscriber)]);
  }

  private receive(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof parsed !== "object" || parsed === null) return;
    const { id, until, origin } = parsed as { id?: unknown; until?: unknown; origin?: unknown };
    if (typeof id !== "string" || id === "" || origin === this.options.origin) return;
    this.options.onRevocation(id, typeof until === "number" && Number.isFinite(until) ? until : undefined);
  }

  private watch(client: Redis, health: HealthLog): void {
    client.on("ready", () => health.up());
    client.on("error", (error: unknown) => health.down(error));
    client.on("close", () => health.down(undefined));
  }
}

/** Logs a dependency's trouble once when it starts and once when it ends. */
class HealthLog {
  state: "unknown" | "up" | "down" = "unknown";
  /** Set on close: a connection we are closing is not trouble. */
  silenced = false;

  constructor(
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  up(): void {
    if (this.state === "up" || this.silenced) return;
    if (this.state === "down") this.logger.info(`${this.what} is reachable again`);
    else this.logger.debug(`${this.what} is connected`);
    this.state = "up";
  }

  down(error: unknown): void {
    if (this.state === "down" || this.silenced) return;
    this.state = "down";
    this.logger.warn(
      { error: error === undefined ? "connection closed" : describe(error) },
      `${this.what} is unreachable; verifying without it until it is back`,
    );
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function quit(client: Redis): Promise<void> {
  if (client.status === "ready") {
    await Promise.race([client.quit().catch(() => undefined), sleep(250, undefined, { ref: false })]);
  }
  client.disconnect();
}

/** ioredis, on first use (a synchronous require, so the cache can be built in a constructor). */
function loadRedis(): typeof Redis {
  const loaded = require("ioredis") as { default?: typeof Redis } & typeof Redis;
  return loaded.default ?? loaded;
}
