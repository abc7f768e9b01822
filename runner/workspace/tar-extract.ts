import { constants } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import path from "node:path";
import { assertConfinedDir, ConfinementError, relativeInside } from "../../core/confined-fs.ts";

/**
 * Reads a tar archive (POSIX ustar, with the pax `x` and GNU `L` long-name extensions Go's
 * archive/tar writes — oras-go packs skill directories with it) and writes its regular files
 * and directories under one root. Nothing else is accepted: a link (symbolic or hard), a device or
 * a FIFO, an absolute name or a name with a `..` segment is an error, so an archive can never
 * write outside the root, whatever its order. Written for skills, which are small: the archive is
 * in memory, its size bounded by the caller.
 */

export class ArchiveError extends Error {
  override name = "ArchiveError";
}

export interface ArchiveEntry {
  /** The name as archived ("./"-prefix and trailing "/" removed). */
  name: string;
  type: "file" | "directory";
  /** Permission bits from the header. */
  mode: number;
  data: Buffer;
}

const BLOCK = 512;

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString("utf8");
}

function octal(block: Buffer, start: number, length: number, what: string): number {
  if ((block[start] ?? 0) & 0x80)
    throw new ArchiveError(`the ${what} of a tar entry is in base-256, which a skill never needs`);
  const value = text(block, start, length).trim();
  if (value === "") return 0;
  if (!/^[0-7]+$/.test(value)) throw new ArchiveError(`a tar header's ${what} is not octal`);
  return Number.parseInt(value, 8);
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] ?? 0);
  return sum === octal(block, 148, 8, "checksum");
}

/** The `path` record of a pax extended header ("<len> key=value\n" records). */
function paxPath(data: Buffer): string | undefined {
  let offset = 0;
  let found: string | undefined;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space < 0) break;
    const length = Number.parseInt(data.subarray(offset, space).toString("utf8"), 10);
    if (!Number.isSafeInteger(length) || length <= 0)
      throw new ArchiveError("a pax header record is malformed");
    const record = data.subarray(space + 1, offset + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq > 0 && record.slice(0, eq) === "path") found = record.slice(eq + 1);
    if (eq > 0 && record.slice(0, eq) === "linkpath") throw new ArchiveError("the archive holds a link");
    offset += length;
  }
  return found;
}

/** Every entry of a tar archive, links and special files refused. */
export function readTar(archive: Buffer): ArchiveEntry[] {
  const entries: ArchiveEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) return entries; // end of archive
    if (!checksumOk(header)) throw new ArchiveError(`the tar header at byte ${offset} has a bad checksum`);
    const size = octal(header, 124, 12, "size");
    const type = String.fromCharCode(header[156] ?? 0);
    const dataStart = offset + BLOCK;
    if (dataStart + size > archive.length) throw new ArchiveError("the archive ends inside an entry");
    const data = archive.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x") {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === "g") continue; // pax global header: nothing a file needs
    if (type === "L") {
      longName = text(data, 0, data.length);
      continue;
    }
    const ustar = text(header, 257, 6) === "ustar";
    const prefix = ustar ? text(header, 345, 155) : "";
    const rawName = longName ?? (prefix ? `${prefix}/${text(header, 0, 100)}` : text(header, 0, 100));
    longName = undefined;
    if (type === "1" || type === "2" || type === "K") {
      throw new ArchiveError(`${JSON.stringify(rawName)} is a link; a skill's files must be regular files`);
    }
    let kind: ArchiveEntry["type"];
    if (type === "0" || type === "\0" || type === "7") kind = "file";
    else if (type === "5") kind = "directory";
    else
      throw new ArchiveError(
        `${JSON.stringify(rawName)} is not a regular file or directory (tar type ${JSON.stringify(type)})`,
      );
    const name = rawName.replace(/^(?:\.\/)+/, "").replace(/\/+$/, "");
    entries.push({ name: name === "" ? "." : name, type: kind, mode: octal(header, 100, 8, "mode"), data });
  }
  throw new ArchiveError("the archive has no end-of-archive marker");
}

/**
 * A relative path inside a root, or an error: no absolute path, no `..` segment, no NUL, no
 * backslash tricks. `"."` is the root itself (answered "").
 */
export function confinedRelative(name: string): string {
  if (name.includes("\0")) throw new ArchiveError(`${JSON.stringify(name)} contains a NUL byte`);
  if (path.posix.isAbsolute(name) || /^[A-Za-z]:/.test(name)) {
    throw new ArchiveError(`${JSON.stringify(name)} is an absolute path`);
  }
  const segments = name.split(/[/\\]/);
  if (segments.includes(".."))
    throw new ArchiveError(`${JSON.stringify(name)} leaves the skill's directory ("..")`);
  return segments.filter((s) => s !== "" && s !== ".").join("/");
}

/**
 * Writes one file below `root` (a directory the caller made): every directory on the way is
 * created and checked to be a real directory inside the root (core/confined-fs.ts), and the file
 * is opened with O_NOFOLLOW, so no link, planted or raced, is followed out.
 */
export async function writeConfinedFile(
  root: string,
  relative: string,
  data: Buffer,
  mode: number,
): Promise<void> {
  const rel = confinedRelative(relative);
  if (rel === "") throw new ArchiveError(`a file cannot be named ${JSON.stringify(relative)}`);
  const full = path.join(root, rel);
  relativeInside(root, full);
  await makeConfinedDir(root, path.dirname(rel));
  const handle = await open(
    full,
    constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
    mode & 0o111 ? 0o755 : 0o644,
  ).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ELOOP") throw new ConfinementError(`${rel} is a symbolic link; it is not followed`);
    throw error;
  });
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

/** Creates `relative` (and its parents) below `root`, each a real directory inside it. */
export async function makeConfinedDir(root: string, relative: string): Promise<void> {
  const rel = confinedRelative(relative);
  if (rel === "") return;
  let current = root;
  for (const part of rel.split("/")) {
    current = path.join(current, part);
    await mkdir(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "EEXIST") throw error;
    });
    await assertConfinedDir(root, current);
  }
}
