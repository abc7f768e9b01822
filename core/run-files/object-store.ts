import { createWriteStream } from "node:fs";
import { cp, mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { BUCKET_AREAS } from "../bucket-layout.ts";
import { openConfinedFile } from "../confined-fs.ts";
import { safeJoin } from "./layout.ts";

/**
 * Where cowork inputs come from and outputs go: S3 in AWS, a directory in local mode.
 * Locations are a key prefix, optionally in another bucket than Squadron's own.
 */
export interface ObjectLocation {
  /** Absent: Squadron's own bucket (the data directory locally). */
  bucket?: string;
  /** Key prefix; a trailing slash is implied. */
  prefix: string;
}

export interface ObjectStore {
  /** Copies every object under the location into `dir`; returns the relative paths written. */
  download(from: ObjectLocation, dir: string): Promise<string[]>;
  /**
   * Copies every regular file under `dir` to the location; returns the keys written. Files are
   * opened confined to `options.root` (default `dir`): a link at any component is not followed.
   */
  upload(dir: string, to: ObjectLocation, options?: UploadOptions): Promise<string[]>;
  /** A human-readable address, for results and logs. */
  describe(location: ObjectLocation): string;
}

export interface UploadOptions {
  /** The directory no file may be read from outside of (the run's directory); default `dir`. */
  root?: string;
  /** Stops the copy between files (and the file in flight) when aborted; the upload rejects. */
  signal?: AbortSignal;
}

/** `s3://bucket/prefix/` → {bucket, prefix}; any other text is a prefix of Squadron's bucket. */
export function parseS3Location(text: string): ObjectLocation {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(text);
  if (match) return { bucket: match[1] as string, prefix: normalisePrefix(match[2] ?? "") };
  return { prefix: normalisePrefix(text) };
}

/** kagents' configMap inputs live at `configmaps/<namespace>/<name>/` of Squadron's bucket. */
export function configMapLocation(namespace: string, name: string): ObjectLocation {
  return { prefix: `${BUCKET_AREAS.configMaps}${namespace}/${name}/` };
}

export function normalisePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, "");
  return trimmed === "" || trimmed.endsWith("/") ? trimmed : `${trimmed}/`;
}

/** Relative paths of every regular file under `dir` (sorted, POSIX separators). */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw error;
    },
  );
  return entries
    .filter((e) => e.isFile())
    .map((e) =>
      path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)),
    )
    .map((p) => p.split(path.sep).join("/"))
    .sort();
}

/**
 * Uploads run with more rights than the agents that wrote the directory (the outputs function
 * reads every run as root): a link planted at any component must not deliver another run's files.
 */
function openForUpload(dir: string, file: string, options: UploadOptions | undefined) {
  return openConfinedFile(options?.root ?? dir, path.join(dir, file));
}

/** The local-mode store: `<root>/<prefix>` for Squadron's bucket, `<root>/s3/<bucket>/<prefix>` for others. */
export class LocalDirectoryStore implements ObjectStore {
  constructor(readonly root: string) {}

  private dirOf(location: ObjectLocation): string {
    const base = location.bucket ? path.join(this.root, "s3", location.bucket) : this.root;
    return safeJoin(path.resolve(base), normalisePrefix(location.prefix) || ".", "object prefix");
  }

  async download(from: ObjectLocation, dir: string): Promise<string[]> {
    const source = this.dirOf(from);
    const exists = await stat(source).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!exists)
      throw new Error(`input ${this.describe(from)} does not exist (expected a directory at ${source})`);
    await mkdir(dir, { recursive: true });
    await cp(source, dir, { recursive: true, force: true });
    return listFiles(source);
  }

  async upload(dir: string, to: ObjectLocation, options?: UploadOptions): Promise<string[]> {
    const target = this.dirOf(to);
    await mkdir(target, { recursive: true });
    const keys: string[] = [];
    for (const file of await listFiles(dir)) {
      options?.signal?.throwIfAborted();
      const handle = await openForUpload(dir, file, options);
      if (!handle) continue;
      try {
        const destination = path.join(target, file);
        await mkdir(path.dirname(destination), { recursive: true });
        await pipeline(handle.createReadStream({ autoClose: false }), createWriteStream(destination), {
          ...(options?.signal ? { signal: options.signal } : {}),
        });
      } finally {
        await handle.close();
      }
      keys.push(`${normalisePrefix(to.prefix)}${file}`);
    }
    return keys;
  }

  describe(location: ObjectLocation): string {
    return this.dirOf(location);
  }
}

/**
 * The SDK does not retry a request whose body is a stream, so uploads retry S3's transient
 * answers (5xx, throttling, dropped connections) themselves, each from a fresh read of the file.
 * Refusals such as AccessDenied are final at once.
 */
async function withTransientRetries<T>(attempt: () => Promise<T>, attempts = 4): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (n >= attempts || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** n));
    }
  }
}

function isTransient(error: unknown): boolean {
  const e = error as { $fault?: string; $retryable?: unknown; code?: string; name?: string };
  return (
    e.$fault === "server" ||
    e.$retryable !== undefined ||
    e.name === "SlowDown" ||
    e.name === "TimeoutError" ||
    ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE"].includes(e.code ?? "")
  );
}

/** The AWS store: S3 through the SDK, Squadron's bucket unless the location names another. */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly defaultBucket: string,
  ) {}

  async download(from: ObjectLocation, dir: string): Promise<string[]> {
    const bucket = from.bucket ?? this.defaultBucket;
    const prefix = normalisePrefix(from.prefix);
    const written: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key;
        if (!key || key.endsWith("/")) continue;
        const relative = key.slice(prefix.length);
        const target = safeJoin(dir, relative, "S3 object");
        await mkdir(path.dirname(target), { recursive: true });
        const body = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!body.Body) throw new Error(`s3://${bucket}/${key} has no body`);
        await pipeline(body.Body as Readable, createWriteStream(target));
        written.push(relative);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return written.sort();
  }

  async upload(dir: string, to: ObjectLocation, options?: UploadOptions): Promise<string[]> {
    const bucket = to.bucket ?? this.defaultBucket;
    const prefix = normalisePrefix(to.prefix);
    const keys: string[] = [];
    for (const file of await listFiles(dir)) {
      options?.signal?.throwIfAborted();
      const key = `${prefix}${file}`;
      const delivered = await withTransientRetries(async () => {
        const handle = await openForUpload(dir, file, options);
        if (!handle) return false;
        try {
          // Streamed with its length, so a large output never has to fit in memory (PutObject: 5 GiB max).
          const { size } = await handle.stat();
          await this.client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: handle.createReadStream({ autoClose: false }),
              ContentLength: size,
            }),
            options?.signal ? { abortSignal: options.signal } : {},
          );
          return true;
        } finally {
          await handle.close();
        }
      });
      if (!delivered) continue;
      keys.push(key);
    }
    return keys;
  }

  describe(location: ObjectLocation): string {
    return `s3://${location.bucket ?? this.defaultBucket}/${normalisePrefix(location.prefix)}`;
  }
}
