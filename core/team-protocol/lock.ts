import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { LockTimeoutError } from "./errors.ts";

/**
 * A lock file that works on NFS (EFS): `open(path, "wx")` is O_CREAT|O_EXCL, which NFSv4 makes
 * atomic on the server (unlike flock/fcntl, which EFS only emulates per client). See
 * docs/protocol.md for the rules; in short: hold it for milliseconds, a lock older than
 * `staleMs` or whose owner pid is dead on this host is broken by renaming it aside first.
 */
export interface LockOptions {
  /**
   * Give up (LockTimeoutError) after this long. Default 30 s: longer than `staleMs`, so a holder
   * that died on another host (EFS) is broken and recovered before its waiters give up.
   */
  timeoutMs?: number;
  /** A lock file older than this is considered abandoned. Default 10 s (locks live for ms). */
  staleMs?: number;
  /**
   * A lock file that names no holder (its creator died between O_EXCL create and writing its
   * name, e.g. SIGKILL) is abandoned once older than this. Default 2 s: the write follows the
   * create at once, so only a dead writer leaves it empty that long.
   */
  unwrittenStaleMs?: number;
  /** First retry delay cap; doubles per attempt up to maxDelayMs, full jitter. Default 1 ms. */
  minDelayMs?: number;
  /** Default 20 ms: keeps the p99 of a contended claim low without spinning. */
  maxDelayMs?: number;
}

export interface LockOwner {
  pid: number;
  host: string;
  token: string;
  acquiredAt: string;
}

export interface HeldLock {
  readonly path: string;
  readonly owner: LockOwner;
  release(): Promise<void>;
}

const DEFAULTS = {
  timeoutMs: 30_000,
  staleMs: 10_000,
  unwrittenStaleMs: 2_000,
  minDelayMs: 1,
  maxDelayMs: 20,
} as const;
const STALE_CHECK_EVERY_MS = 200;

export async function acquireLock(path: string, options: LockOptions = {}): Promise<HeldLock> {
  const { timeoutMs, staleMs, unwrittenStaleMs, minDelayMs, maxDelayMs } = { ...DEFAULTS, ...options };
  const staleAfter = { staleMs, unwrittenStaleMs: Math.min(unwrittenStaleMs, staleMs) };
  const started = Date.now();
  let lastStaleCheck = 0;
  for (let attempt = 0; ; attempt++) {
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      token: randomBytes(8).toString("hex"),
      acquiredAt: new Date().toISOString(),
    };
    if (await tryCreate(path, owner)) return heldLock(path, owner);
    // Inspecting the holder costs two stats and a read; a live lock lasts milliseconds, so look
    // on the first miss (a dead holder is recovered at once) and then only now and then.
    if (Date.now() - lastStaleCheck >= STALE_CHECK_EVERY_MS) {
      lastStaleCheck = Date.now();
      if (await breakIfStale(path, staleAfter)) continue;
    }
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      throw new LockTimeoutError(
        `Timed out after ${waited} ms waiting for lock ${path}, held by ${await describeHolder(path)}. ` +
          `If that process is gone, the lock is broken automatically once it is older than ${staleMs} ms.`,
      );
    }
    const cap = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 16));
    await sleep(Math.min(Math.random() * cap + 0.5, timeoutMs - waited + 1));
  }
}

/** Runs `fn` while holding the lock at `path`; the lock is released even if `fn` throws. */
export async function withLock<T>(path: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
  const lock = await acquireLock(path, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

async function tryCreate(path: string, owner: LockOwner): Promise<boolean> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "wx");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code === "ENOENT") {
      throw new Error(
        `Cannot create lock ${path}: its directory does not exist (was the team initialised?).`,
      );
    }
    throw error;
  }
  try {
    // No fsync: the content only names the holder; an empty lock file still ages out by mtime.
    await handle.writeFile(JSON.stringify(owner), "utf8");
  } finally {
    await handle.close();
  }
  return true;
}

function heldLock(path: string, owner: LockOwner): HeldLock {
  let released = false;
  return {
    path,
    owner,
    async release() {
      if (released) return;
      released = true;
      // Only remove the file if it is still ours: if we were (wrongly) judged stale and someone
      // else holds it now, deleting it would let a third process in.
      const current = await readOwner(path);
      if (current?.token === owner.token) await unlink(path).catch(ignoreMissing);
    },
  };
}

interface Observed {
  ino: number;
  mtimeMs: number;
  content: string;
}

/**
 * Returns true when the lock is gone or was broken (retry at once), false when it is live.
 * Rename-then-check: the breaker first renames the lock to a unique name (only one rename of
 * a path can succeed, so two breakers cannot both win), then checks that what it moved is the
 * very file it judged stale. If a fresh lock was created in between, it is linked back
 * (link fails rather than overwriting if yet another lock appeared).
 */
async function breakIfStale(path: string, staleAfter: StaleAfter): Promise<boolean> {
  const observed = await observe(path);
  if (!observed) return true;
  if (!isStale(observed, staleAfter)) return false;

  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return true;
    throw error;
  }
  const moved = await observe(aside);
  const same =
    moved !== undefined &&
    moved.ino === observed.ino &&
    moved.mtimeMs === observed.mtimeMs &&
    moved.content === observed.content;
  if (!same) {
    await link(aside, path).catch(() => {});
  }
  await unlink(aside).catch(ignoreMissing);
  return same;
}

async function observe(path: string): Promise<Observed | undefined> {
  try {
    const before = await stat(path);
    const content = await readFile(path, "utf8");
    const after = await stat(path);
    // Replaced between the reads: report the newer file as fresh by re-observing next round.
    if (before.ino !== after.ino) return { ino: after.ino, mtimeMs: Date.now(), content: "" };
    return { ino: after.ino, mtimeMs: after.mtimeMs, content };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

interface StaleAfter {
  staleMs: number;
  unwrittenStaleMs: number;
}

function isStale(observed: Observed, { staleMs, unwrittenStaleMs }: StaleAfter): boolean {
  const age = Date.now() - observed.mtimeMs;
  if (age > staleMs) return true;
  const owner = parseOwner(observed.content);
  if (owner === undefined) return age > unwrittenStaleMs;
  return owner.host === hostname() && !pidAlive(owner.pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function parseOwner(content: string): LockOwner | undefined {
  try {
    const value = JSON.parse(content) as Partial<LockOwner>;
    return typeof value.pid === "number" && typeof value.host === "string" ? (value as LockOwner) : undefined;
  } catch {
    return undefined; // created but not yet written (or its writer died in between)
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    return parseOwner(await readFile(path, "utf8"));
  } catch (error) {
    ignoreMissing(error);
    return undefined;
  }
}

async function describeHolder(path: string): Promise<string> {
  const owner = await readOwner(path);
  return owner ? `pid ${owner.pid} on ${owner.host} since ${owner.acquiredAt}` : "an unknown process";
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
}
