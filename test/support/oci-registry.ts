import { type ChildProcess, spawn } from "node:child_process";
import { createHash, createPrivateKey, randomUUID, sign, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { freePort } from "./dynamodb-local.ts";
import { selfSignedCertificate } from "./self-signed.ts";

/**
 * A real OCI registry for tests: CNCF distribution 2.8.2 as Debian packages it
 * (`apt-get install docker-registry`, the binary /usr/bin/docker-registry; .ci/run installs it),
 * started with its own config on 127.0.0.1:<free port>, storage in a temporary directory. Pushes
 * go through the distribution API exactly as oras-go's pusher does them (POST an upload, PUT it
 * with ?digest=, then PUT the manifest), with the shapes oras-go gives a pushed directory or file.
 */

export const REGISTRY_BINARY = "/usr/bin/docker-registry";
export const hasRegistry = existsSync(REGISTRY_BINARY);

/**
 * A user of the htpasswd realm, with the bcrypt hash `htpasswd -nbB puller pull-s3cret-7`
 * printed (distribution's htpasswd file accepts bcrypt only; the hash is fixed here so the tests
 * need no htpasswd tool or bcrypt package).
 */
export const REGISTRY_USER = {
  username: "puller",
  password: "pull-s3cret-7",
  htpasswd: "puller:$2y$05$wKilAykknykuVUma5Kibe./d/oss2wDMgueJXxPlz7z9Aj/8/WyOu",
};

/** The identity token (an OAuth2 refresh token, docker config's `identitytoken`) the token service takes. */
export const REGISTRY_IDENTITY_TOKEN = "squadron-test-refresh-token";

export interface RunningRegistry {
  /** host:port, as a reference names it. */
  host: string;
  /** The registry's storage root (docker/registry/v2/...), for tests that tamper with a blob. */
  storage: string;
  /** The headers a push to `repository` needs: none, the test user's Basic auth, or a token. */
  pushHeaders(repository: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/**
 * Starts distribution. With `htpasswd` every request needs the test user (Basic auth); with
 * `token`, a bearer token from startTokenService, which answers the test user only.
 */
export async function startRegistry(
  options: { htpasswd?: boolean; token?: boolean } = {},
): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "squadron-registry-"));
  const storage = join(dir, "storage");
  const port = await freePort();
  const tokens = options.token ? await startTokenService(dir) : undefined;
  const auth = options.htpasswd
    ? `auth:\n  htpasswd:\n    realm: squadron-test\n    path: ${join(dir, "htpasswd")}\n`
    : (tokens?.config ?? "");
  if (options.htpasswd) await writeFile(join(dir, "htpasswd"), `${REGISTRY_USER.htpasswd}\n`);
  await writeFile(
    join(dir, "config.yml"),
    `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storage}
http:
  addr: 127.0.0.1:${port}
  secret: squadron-test-upload-secret
${auth}`,
  );
  const child = spawn(REGISTRY_BINARY, ["serve", join(dir, "config.yml")], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "" },
  });
  let log = "";
  child.stdout?.on("data", (d) => {
    log += d;
  });
  child.stderr?.on("data", (d) => {
    log += d;
  });
  const host = `127.0.0.1:${port}`;
  await waitUntilServing(host, child, () => log);
  return {
    host,
    storage,
    pushHeaders: async (repository) =>
      options.htpasswd ? basicAuth() : tokens ? await tokens.pushHeaders(repository) : {},
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      await tokens?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Waits for the registry's /v2/ to answer (200, or 401 with auth). */
async function waitUntilServing(host: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited with ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(`http://${host}/v2/`);
      if (res.status === 200 || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not serve within 60 s:\n${output()}`);
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function basicAuth(): { authorization: string } {
  return {
    authorization: `Basic ${Buffer.from(`${REGISTRY_USER.username}:${REGISTRY_USER.password}`).toString("base64")}`,
  };
}

/** oras-go's blob push: POST /v2/<name>/blobs/uploads/, then PUT the whole blob at ?digest=. */
export async function pushBlob(
  host: string,
  repository: string,
  data: Buffer,
  auth: Record<string, string> = {},
): Promise<string> {
  const digest = sha256(data);
  const start = await fetch(`http://${host}/v2/${repository}/blobs/uploads/`, {
    method: "POST",
    headers: auth,
  });
  if (start.status !== 202) throw new Error(`POST upload answered ${start.status}: ${await start.text()}`);
  const location = new URL(start.headers.get("location") ?? "", `http://${host}`);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    headers: {
      ...auth,
      "content-type": "application/octet-stream",
      "content-length": String(data.length),
    },
    body: data,
  });
  if (put.status !== 201) throw new Error(`PUT upload answered ${put.status}: ${await put.text()}`);
  return digest;
}

/** PUT /v2/<name>/manifests/<tag>; answers the manifest's digest. */
export async function pushManifest(
  host: string,
  repository: string,
  tag: string,
  manifest: Buffer,
  auth: Record<string, string> = {},
): Promise<string> {
  const res = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    headers: { ...auth, "content-type": "application/vnd.oci.image.manifest.v1+json" },
    body: manifest,
  });
  if (res.status !== 201) throw new Error(`PUT manifest answered ${res.status}: ${await res.text()}`);
  return sha256(manifest);
}

/** One tar entry as a test writes it; `raw` names are written as given (for hostile archives). */
export interface TarEntry {
  name: string;
  type?: "file" | "directory" | "symlink";
  content?: string;
  linkname?: string;
  mode?: number;
}

function field(block: Buffer, offset: number, length: number, value: string): void {
  block.write(value, offset, Math.min(length, Buffer.byteLength(value)), "utf8");
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, "0")}\0`;
}

/**
 * Go's archive/tar: the USTAR prefix field when a long name splits at a "/" into 155 + 100 bytes
 * (splitUSTARPath), else a pax `x` header with the path.
 */
function tarName(name: string): { name: string; prefix?: string; pax?: string } {
  if (Buffer.byteLength(name) <= 100) return { name };
  for (let i = name.length - 1; i > 0; i--) {
    if (
      name[i] === "/" &&
      Buffer.byteLength(name.slice(0, i)) <= 155 &&
      Buffer.byteLength(name.slice(i + 1)) <= 100
    ) {
      return { name: name.slice(i + 1), prefix: name.slice(0, i) };
    }
  }
  return { name: name.slice(0, 100), pax: name };
}

function paxHeader(path: string): Buffer {
  const body = (length: number) => `${length} path=${path}\n`;
  let length = Buffer.byteLength(body(0));
  while (Buffer.byteLength(body(length)) !== length) length = Buffer.byteLength(body(length));
  return Buffer.from(body(length));
}

/** A USTAR archive as Go's archive/tar writes it (uid/gid 0, no user names, pax for long names). */
export function tar(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const names = tarName(entry.name);
    if (names.pax) {
      const data = paxHeader(names.pax);
      blocks.push(header({ name: "PaxHeaders/x", content: data.toString("utf8") }, "x", {}), data);
      blocks.push(Buffer.alloc((512 - (data.length % 512)) % 512));
    }
    blocks.push(header(entry, undefined, names));
    const data = Buffer.from(entry.content ?? "");
    if ((entry.type ?? "file") === "file") {
      blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** One 512-byte header; `typeflag` overrides the entry's type (pax "x"). */
function header(
  entry: TarEntry,
  typeflag: string | undefined,
  names: { name?: string; prefix?: string },
): Buffer {
  const size = Buffer.byteLength(entry.content ?? "");
  const block = Buffer.alloc(512);
  const type = entry.type ?? "file";
  field(block, 0, 100, names.name ?? entry.name);
  if (names.prefix) field(block, 345, 155, names.prefix);
  field(block, 100, 8, octal(entry.mode ?? (type === "directory" ? 0o755 : 0o644), 8));
  field(block, 108, 8, octal(0, 8));
  field(block, 116, 8, octal(0, 8));
  field(block, 124, 12, octal(type === "file" ? size : 0, 12));
  field(block, 136, 12, octal(1_700_000_000, 12));
  block.write("        ", 148, 8, "ascii");
  block.write(typeflag ?? (type === "directory" ? "5" : type === "symlink" ? "2" : "0"), 156, 1, "ascii");
  if (entry.linkname) field(block, 157, 100, entry.linkname);
  block.write("ustar\u000000", 257, 8, "binary");
  let sum = 0;
  for (const byte of block) sum += byte;
  field(block, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}

export interface Artifact {
  /** The manifest's digest (what `@sha256:` pins). */
  digest: string;
  manifest: Buffer;
  layers: Descriptor[];
}

/**
 * Pushes a skill as `oras push <ref> --artifact-type application/vnd.kagents.skill.v1 <files>`
 * does with oras 1.2 (image-spec v1.1): the empty config `{}`, then one layer per directory
 * (tar+gzip, title + unpack annotations, content digest of the tar) or per file (title only),
 * then the manifest with artifactType and a created annotation (oras-go pack.go packManifestV1_1).
 */
export async function pushArtifact(
  host: string,
  repository: string,
  tag: string,
  layers: Array<{ directory: string; entries: TarEntry[] } | { file: string; content: string }>,
  auth: Record<string, string> = {},
  /** "v1.0": oras' `--image-spec v1.0` form (pack.go packManifestV1_1_RC2): the artifact type as config. */
  imageSpec: "v1.1" | "v1.0" = "v1.1",
): Promise<Artifact> {
  const empty = Buffer.from("{}");
  await pushBlob(host, repository, empty, auth);
  const descriptors: Descriptor[] = [];
  for (const layer of layers) {
    if ("directory" in layer) {
      const archive = tar(layer.entries);
      const gz = gzipSync(archive);
      const digest = await pushBlob(host, repository, gz, auth);
      descriptors.push({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest,
        size: gz.length,
        annotations: {
          "io.deis.oras.content.digest": sha256(archive),
          "io.deis.oras.content.unpack": "true",
          "org.opencontainers.image.title": layer.directory,
        },
      });
    } else {
      const data = Buffer.from(layer.content);
      const digest = await pushBlob(host, repository, data, auth);
      descriptors.push({
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest,
        size: data.length,
        annotations: { "org.opencontainers.image.title": layer.file },
      });
    }
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      ...(imageSpec === "v1.1"
        ? {
            artifactType: "application/vnd.kagents.skill.v1",
            config: {
              mediaType: "application/vnd.oci.empty.v1+json",
              digest: sha256(empty),
              size: 2,
              data: "e30=",
            },
          }
        : { config: { mediaType: "application/vnd.kagents.skill.v1", digest: sha256(empty), size: 2 } }),
      layers: descriptors,
      annotations: { "org.opencontainers.image.created": "2026-12-05T12:00:00Z" },
    }),
  );
  const digest = await pushManifest(host, repository, tag, manifest, auth);
  return { digest, manifest, layers: descriptors };
}

/** The path distribution's filesystem driver stores a blob's bytes at. */
export function blobDataPath(storage: string, digest: string): string {
  const hex = digest.replace(/^sha256:/, "");
  return join(storage, "docker", "registry", "v2", "blobs", "sha256", hex.slice(0, 2), hex, "data");
}

export interface TokenService {
  /** The `auth.token` section of the registry's config. */
  config: string;
  /** A bearer token for pushing to `repository` as the test user. */
  pushHeaders(repository: string): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString("base64url");
}

/**
 * A token service for distribution's token authentication (the flow ghcr.io and Docker Hub use:
 * 401 `WWW-Authenticate: Bearer realm=…,service=…,scope=…`, then a JWT from the realm). It
 * answers GET /token?service=&scope= with a JWT granting the scope's actions to the test user
 * (Basic auth) and nothing to anyone else, signed RS256 with an `x5c` certificate that the
 * registry trusts through `rootcertbundle` (distribution registry/auth/token: the chain in x5c
 * is verified against it).
 */
export async function startTokenService(dir: string): Promise<TokenService> {
  const pair = selfSignedCertificate("squadron-test-token");
  const cert = join(dir, "token.pem");
  await writeFile(cert, pair.cert);
  const privateKey = createPrivateKey(pair.key);
  const der = new X509Certificate(pair.cert).raw.toString("base64");
  const service = "squadron-test-registry";
  const issuer = "squadron-test-issuer";
  const expected = basicAuth().authorization;
  /** A JWT granting `scopes` (repository:<name>:<actions>) to `subject` ("" grants nothing). */
  const issue = (subject: string, audience: string, scopes: string[]) => {
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(":");
      return subject && type && name && actions ? [{ type, name, actions: actions.split(",") }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [der] }));
    const claims = base64url(
      JSON.stringify({
        iss: issuer,
        sub: subject,
        aud: audience,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const signature = base64url(sign("RSA-SHA256", Buffer.from(`${header}.${claims}`), privateKey));
    return `${header}.${claims}.${signature}`;
  };
  const json = (res: ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/token") {
      res.writeHead(404).end();
      return;
    }
    if (req.method === "POST") {
      // docker's OAuth2 form (distribution docs/spec/auth/oauth.md): an identity token as refresh token.
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      if (
        form.get("grant_type") !== "refresh_token" ||
        form.get("refresh_token") !== REGISTRY_IDENTITY_TOKEN
      ) {
        json(res, 401, { error: "invalid_grant" });
        return;
      }
      json(res, 200, {
        access_token: issue(
          REGISTRY_USER.username,
          form.get("service") ?? "",
          form.get("scope")?.split(" ") ?? [],
        ),
        expires_in: 300,
      });
      return;
    }
    const authorized = req.headers.authorization === expected;
    if (req.headers.authorization && !authorized) {
      json(res, 401, { details: "incorrect username or password" });
      return;
    }
    // The test user gets the scopes it asks for; anonymous requests get a token granting nothing.
    const token = issue(
      authorized ? REGISTRY_USER.username : "",
      url.searchParams.get("service") ?? "",
      url.searchParams.getAll("scope"),
    );
    json(res, 200, { token, expires_in: 300 });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const realm = `http://127.0.0.1:${port}/token`;
  return {
    pushHeaders: async (repository) => {
      const url = `${realm}?service=${service}&scope=repository:${repository}:pull,push`;
      const { token } = (await (await fetch(url, { headers: basicAuth() })).json()) as { token: string };
      return { authorization: `Bearer ${token}` };
    },
    config: `auth:\n  token:\n    realm: http://127.0.0.1:${port}/token\n    service: ${service}\n    issuer: ${issuer}\n    rootcertbundle: ${cert}\n`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface RedirectingFront {
  /** host:port of the front, which references name instead of the registry's. */
  host: string;
  /** The Authorization header each blob request reaching the storage carried ("" for none). */
  storageAuthorizations: string[];
  stop(): Promise<void>;
}

/**
 * The registry behind a front that sends blob GETs elsewhere, the way ghcr.io sends them to its
 * CDN and an S3-backed distribution to a presigned URL: `307 Location:` another origin (here
 * another port), where a "storage" server serves the bytes (read from the registry with the test
 * user) and records whether the registry's credentials followed the redirect.
 */
export async function startRedirectingFront(registry: RunningRegistry): Promise<RedirectingFront> {
  const storageAuthorizations: string[] = [];
  const storage = createServer(async (req, res) => {
    storageAuthorizations.push(req.headers.authorization ?? "");
    const path = (req.url ?? "").replace(/^\/storage/, "").replace(/\?.*$/, "");
    const repository = /^\/v2\/(.+)\/blobs\//.exec(path)?.[1] ?? "";
    const upstream = await fetch(`http://${registry.host}${path}`, {
      headers: await registry.pushHeaders(repository),
    });
    res.writeHead(upstream.status).end(Buffer.from(await upstream.arrayBuffer()));
  });
  const storagePort = await freePort();
  await new Promise<void>((resolve) => storage.listen(storagePort, "127.0.0.1", resolve));
  const front = createServer(async (req, res) => {
    const url = req.url ?? "/";
    if (/^\/v2\/.+\/blobs\/sha256:[a-f0-9]{64}$/.test(url) && req.method === "GET") {
      res
        .writeHead(307, {
          location: `http://127.0.0.1:${storagePort}/storage${url}?X-Amz-Signature=presigned`,
        })
        .end();
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of ["authorization", "accept"]) {
      const value = req.headers[name];
      if (typeof value === "string") headers[name] = value;
    }
    const upstream = await fetch(`http://${registry.host}${url}`, { method: req.method ?? "GET", headers });
    const answer: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(name))
        answer[name] = value;
    });
    res.writeHead(upstream.status, answer).end(Buffer.from(await upstream.arrayBuffer()));
  });
  const frontPort = await freePort();
  await new Promise<void>((resolve) => front.listen(frontPort, "127.0.0.1", resolve));
  return {
    host: `127.0.0.1:${frontPort}`,
    storageAuthorizations,
    stop: async () => {
      await new Promise((resolve) => front.close(resolve));
      await new Promise((resolve) => storage.close(resolve));
    },
  };
}
