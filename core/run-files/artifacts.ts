import { constants } from "node:fs";
import { type FileHandle, lstat, mkdir, open, unlink } from "node:fs/promises";
import path from "node:path";
import { ConfinementError, openConfinedFile, relativeInside } from "../confined-fs.ts";
import { workspaceRelativePath } from "../manifest/artifacts.ts";
import type { ArtifactInput, ArtifactOutput } from "../manifest/types.ts";

/**
 * The file work of kagents v0.8 artifact routing, done by the runner (the only Squadron code with
 * the run's files at hand on AWS as locally): checking a producer's declared outputs when it ends
 * and staging them for a consumer before it starts. Agents shape everything under the run's
 * directory, links included, so every read goes through core/confined-fs.ts (no link at any
 * component, O_NOFOLLOW, the descriptor's real path inside the producer's working directory) and
 * every write refuses links on the way to the mount path: a producer that makes its "output" a
 * link to another run's file gets an error, never that file's bytes.
 */

/** An artifact that cannot be produced or staged; the message is for the agent's status. */
export class ArtifactError extends Error {
  override name = "ArtifactError";
}

/** Where a container path (`/workspace/x`, `x`) lies under an agent's working directory. */
export function artifactLocation(workdir: string, containerPath: string): string {
  const relative = workspaceRelativePath(containerPath);
  if (!relative) throw new ArtifactError(`${containerPath} is not a path under /workspace`);
  return path.join(path.resolve(workdir), relativeInside(workdir, relative));
}

async function lstatOrUndefined(file: string) {
  try {
    return await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Opens a produced artifact for reading, confined to the producer's working directory. */
async function openArtifact(workdir: string, output: Pick<ArtifactOutput, "path">): Promise<FileHandle> {
  const file = artifactLocation(workdir, output.path);
  const info = await lstatOrUndefined(file);
  if (!info) throw new ArtifactError(`${output.path} does not exist`);
  if (info.isSymbolicLink())
    throw new ArtifactError(
      `${output.path} is a symbolic link; artifacts must be regular files (links are not followed)`,
    );
  if (!info.isFile()) throw new ArtifactError(`${output.path} is not a regular file`);
  let handle: FileHandle | undefined;
  try {
    handle = await openConfinedFile(workdir, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new ArtifactError(`${output.path} does not exist`);
    if (error instanceof ConfinementError) throw new ArtifactError(`${output.path}: ${error.message}`);
    throw error;
  }
  if (!handle)
    throw new ArtifactError(
      `${output.path} is reached through a symbolic link or is not a regular file; it is not followed`,
    );
  return handle;
}

export interface FoundOutput {
  output: ArtifactOutput;
  size: number;
}

/**
 * Every declared output of a producer that just ended: its size, or why it is missing. The
 * caller fails the producer when `missing` is not empty.
 */
export async function checkOutputs(
  workdir: string,
  outputs: readonly ArtifactOutput[],
): Promise<{ found: FoundOutput[]; missing: string[] }> {
  const found: FoundOutput[] = [];
  const missing: string[] = [];
  for (const output of outputs) {
    try {
      const handle = await openArtifact(workdir, output);
      try {
        found.push({ output, size: (await handle.stat()).size });
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (error instanceof ArtifactError) missing.push(error.message);
      else throw error;
    }
  }
  return { found, missing };
}

/**
 * Creates `dir` (inside `root`) one component at a time, refusing any component that is a link
 * or not a directory, so a link planted on the way cannot redirect the staged copy.
 */
async function confinedMkdir(root: string, dir: string): Promise<void> {
  let current = path.resolve(root);
  const rel = relativeInside(root, dir);
  for (const part of rel === "" ? [] : rel.split(path.sep)) {
    current = path.join(current, part);
    let info = await lstatOrUndefined(current);
    if (!info) {
      await mkdir(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error;
      });
      info = await lstat(current);
    }
    if (info.isSymbolicLink())
      throw new ArtifactError(
        `${path.relative(root, current)} is a symbolic link; staging does not follow it`,
      );
    if (!info.isDirectory()) throw new ArtifactError(`${path.relative(root, current)} is not a directory`);
  }
}

/** chmod of a directory through a descriptor opened without following a link. */
async function chmodDir(dir: string, mode: number): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/** Mode of a staged artifact and of its mount directory while its consumer runs. */
export const STAGED_FILE_MODE = 0o444;
export const STAGED_DIR_MODE = 0o555;
/** The mount directory's mode once its consumer has ended (so the run's files can be removed). */
export const RELEASED_DIR_MODE = 0o755;

/**
 * Copies the producer's artifact to `<mountPath>/<artifact>` under the consumer's working
 * directory: the file 0444, its directory 0555 (see docs/manifests.md for what "read-only"
 * means). Re-staging (a restarted consumer) replaces the earlier copy. Returns the bytes copied.
 */
export async function stageArtifact(options: {
  producerWorkdir: string;
  output: Pick<ArtifactOutput, "path">;
  consumerWorkdir: string;
  input: ArtifactInput;
}): Promise<{ file: string; size: number }> {
  const { producerWorkdir, output, consumerWorkdir, input } = options;
  const dir = artifactLocation(consumerWorkdir, input.mountPath);
  const target = path.join(dir, input.artifact);
  relativeInside(dir, target);
  const source = await openArtifact(producerWorkdir, output);
  try {
    await confinedMkdir(consumerWorkdir, dir);
    await chmodDir(dir, RELEASED_DIR_MODE);
    const existing = await lstatOrUndefined(target);
    if (existing?.isDirectory())
      throw new ArtifactError(`${input.mountPath}/${input.artifact} is a directory`);
    if (existing) await unlink(target);
    const written = await open(
      target,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      STAGED_FILE_MODE,
    );
    try {
      const size = await copyContents(source, written);
      await written.chmod(STAGED_FILE_MODE);
      await chmodDir(dir, STAGED_DIR_MODE);
      return { file: target, size };
    } finally {
      await written.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * Copies between two open descriptors. (Not stream.pipeline: streams over FileHandles that must
 * stay open never emit "close", so the pipeline never settles.)
 */
async function copyContents(from: FileHandle, to: FileHandle): Promise<number> {
  const buffer = Buffer.allocUnsafe(1 << 16);
  let total = 0;
  for (;;) {
    const { bytesRead } = await from.read(buffer, 0, buffer.length, total);
    if (bytesRead === 0) return total;
    let written = 0;
    while (written < bytesRead) {
      const { bytesWritten } = await to.write(buffer, written, bytesRead - written, total + written);
      written += bytesWritten;
    }
    total += bytesRead;
  }
}

/** Makes a consumer's mount directories writable again once it has ended (the file stays 0444). */
export async function releaseStagedDirs(
  consumerWorkdir: string,
  inputs: readonly ArtifactInput[],
): Promise<void> {
  for (const dir of new Set(inputs.map((input) => artifactLocation(consumerWorkdir, input.mountPath)))) {
    await chmodDir(dir, RELEASED_DIR_MODE).catch(() => {});
  }
}
