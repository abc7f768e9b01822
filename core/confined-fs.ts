import { constants } from "node:fs";
import { type FileHandle, lstat, open, readlink, realpath } from "node:fs/promises";
import path from "node:path";

/**
 * File access confined to a root directory, for code that reads or writes a run's files with more
 * rights than the agents that shaped them (the outputs function reads every run; the local stack's
 * API reads tasks, messages and logs). An agent controls everything below the run's directory, so
 * any component may be a symbolic link planted to reach another run (`output -> ../../<run>/…`).
 * Every component below the root is checked with lstat (no link, directories all the way), the
 * file is opened with O_NOFOLLOW, and on Linux the opened descriptor's real path is checked to be
 * inside the root's real path, which also defeats a component swapped for a link between the
 * check and the open.
 */
export class ConfinementError extends Error {
  override name = "ConfinementError";
}

/** `target` relative to `root`, or a ConfinementError when it leaves it (`..`, another absolute path). */
export function relativeInside(root: string, target: string): string {
  const rel = path.relative(path.resolve(root), path.resolve(root, target));
  if (rel === "") return "";
  if (rel === ".." || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new ConfinementError(`${target} is outside ${root}`);
  }
  return rel;
}

/** Checks every component from `root` (exclusive) to `dir` (inclusive) is a real directory, no link. */
export async function assertConfinedDir(root: string, dir: string): Promise<void> {
  const rel = relativeInside(root, dir);
  let current = path.resolve(root);
  const rootStat = await lstat(current);
  if (!rootStat.isDirectory()) throw new ConfinementError(`${root} is not a directory (or is a link)`);
  for (const part of rel === "" ? [] : rel.split(path.sep)) {
    current = path.join(current, part);
    const info = await lstat(current);
    if (info.isSymbolicLink()) {
      throw new ConfinementError(`${path.relative(root, current)} is a symbolic link; it is not followed`);
    }
    if (!info.isDirectory()) throw new ConfinementError(`${path.relative(root, current)} is not a directory`);
  }
}

/** Whether the open descriptor's real path is inside `realRoot` (Linux /proc; elsewhere trusted to lstat). */
async function descriptorInside(handle: FileHandle, realRoot: string): Promise<boolean> {
  let actual: string;
  try {
    actual = await readlink(`/proc/self/fd/${handle.fd}`);
  } catch {
    return true; // no /proc (macOS): the component checks above are what we have
  }
  return actual === realRoot || actual.startsWith(realRoot + path.sep);
}

/**
 * Opens `file` (inside `root`) for reading only if it is a regular file reached through real
 * directories, never through a link at any component. Answers undefined for a link or a
 * non-regular file (callers skip it) and throws ConfinementError for a path outside the root.
 */
export async function openConfinedFile(root: string, file: string): Promise<FileHandle | undefined> {
  const rel = relativeInside(root, file);
  if (rel === "") return undefined;
  const full = path.join(path.resolve(root), rel);
  try {
    await assertConfinedDir(root, path.dirname(full));
  } catch (error) {
    if (error instanceof ConfinementError) return undefined;
    throw error;
  }
  let handle: FileHandle;
  try {
    handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOOP") return undefined;
    throw error;
  }
  try {
    if ((await handle.stat()).isFile() && (await descriptorInside(handle, await realpath(root))))
      return handle;
  } catch (error) {
    await handle.close();
    throw error;
  }
  await handle.close();
  return undefined;
}

/** Reads a confined file as UTF-8 text; undefined when it is absent, a link or not a regular file. */
export async function readConfinedText(root: string, file: string): Promise<string | undefined> {
  let handle: FileHandle | undefined;
  try {
    handle = await openConfinedFile(root, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  if (!handle) return undefined;
  try {
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}
