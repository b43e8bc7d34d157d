// The sidecar's last known state on disk (--cache-dir): what it followed from the control plane
// (config, registry, policies, public keys, revocations) and the credential decisions it has
// cached, so that a sidecar started while every control-plane member is down is ready at once and
// serves. Written atomically (temporary file, fsync, rename, fsync of the directory), so a crash
// mid-write leaves the previous copy; a file that does not parse is set aside, never trusted.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const FILE = "state.json";
const FORMAT = 1;

const cacheSchema = z.object({
  format: z.literal(FORMAT),
  nodeId: z.string(),
  savedAt: z.string(),
  revision: z.number().int().nonnegative(),
  appliedAt: z.string().nullable(),
  items: z.array(z.object({ key: z.string(), value: z.unknown() })),
  credentials: z.unknown(),
});

export type CachedState = z.infer<typeof cacheSchema>;

export class CacheFileError extends Error {
  override readonly name = "CacheFileError";
}

/** Writes the state; throws on an I/O error (the caller logs it and tries again later). */
/**
 * Makes sure `dir` exists and this process may write in it; throws naming the directory and why.
 * Called at start: a sidecar that cannot keep its cache would not survive the next control-plane
 * outage, so it must say so at once rather than serve as if it could.
 */
export function checkCacheDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `${FILE}.probe`);
    closeSync(openSync(probe, "w", 0o600));
    unlinkSync(probe);
  } catch (error) {
    throw new Error(`cannot use --cache-dir ${dir}: ${(error as Error).message}`);
  }
}

export function saveCache(dir: string, state: Omit<CachedState, "format">): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, FILE);
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    const bytes = Buffer.from(JSON.stringify({ format: FORMAT, ...state }));
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const dirFd = openSync(dir, "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * The saved state, or undefined when there is none. A file that is unreadable, not JSON, of
 * another format or of another node is refused with CacheFileError naming why.
 */
export function loadCache(dir: string, nodeId: string): CachedState | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, FILE), "utf8");
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    throw new CacheFileError(`cannot read ${join(dir, FILE)}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CacheFileError(`${join(dir, FILE)} is not valid JSON (${(error as Error).message})`);
  }
  const result = cacheSchema.safeParse(parsed);
  if (!result.success) throw new CacheFileError(`${join(dir, FILE)} is not a sidecar cache of format ${FORMAT}`);
  if (result.data.nodeId !== nodeId) throw new CacheFileError(`${join(dir, FILE)} belongs to node ${result.data.nodeId}, not ${nodeId}`);
  return result.data;
}
