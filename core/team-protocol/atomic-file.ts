import { randomBytes } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Temp files start with a dot and end in `.tmp`, so listings of `tasks/` and readers skip them. */
export const TEMP_SUFFIX = ".tmp";

export function isTempFile(name: string): boolean {
  return name.startsWith(".") && name.endsWith(TEMP_SUFFIX);
}

/**
 * Replaces `path` atomically: the bytes go to a temp file in the same directory (rename is
 * only atomic within one file system), are fsynced, then renamed over the target. A reader
 * sees either the old or the new file, never a torn one, even if this process is killed
 * mid-write (the temp file is left behind and ignored). The data is fsynced before the rename
 * so the new name never points at unwritten blocks; the directory itself is not fsynced: the
 * protocol needs atomicity between live processes, not durability across a host crash.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}${TEMP_SUFFIX}`);
  const handle = await open(temp, "wx");
  try {
    await handle.writeFile(data, "utf8");
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Reads and parses a JSON file; `undefined` when it does not exist. NFS can answer ESTALE when
 * the file was replaced by a rename between lookup and read, so that is retried.
 */
export async function readJson<T>(path: string): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      const text = await readFile(path, "utf8");
      return JSON.parse(text) as T;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      if (code === "ESTALE" && attempt < 5) continue;
      if (error instanceof SyntaxError) {
        throw new SyntaxError(
          `${path} is not valid JSON (${error.message}); it was not written by Squadron.`,
        );
      }
      throw error;
    }
  }
}
