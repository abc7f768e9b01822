import { createHash } from "node:crypto";
import type { OciReference } from "../../core/manifest/oci-reference.ts";
import type { RegistryCredentials } from "./docker-config.ts";

/**
 * A small pull-only client of the OCI distribution API
 * (https://github.com/opencontainers/distribution-spec/blob/main/spec.md): GET the manifest, GET
 * each blob, nothing else. Authentication follows docker's registry token flow: an anonymous
 * request answered 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` is retried with a
 * token from the realm (asked with the secret's user and password as Basic auth, when there is
 * one); `WWW-Authenticate: Basic` is answered with the user and password themselves.
 * Every byte read is bounded, and every blob is checked against its descriptor's digest and size.
 */

/** Thrown with the registry's own answer in the message (never a credential). */
export class RegistryError extends Error {
  override name = "RegistryError";
}

export const MANIFEST_MEDIA_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
] as const;
const INDEX_MEDIA_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
];

/** distribution's own limit on a manifest's size (4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Redirects followed per request (a registry's blob goes to storage once, maybe twice). */
const MAX_REDIRECTS = 5;
/** A registry that does not answer within this long is not going to (per request). */
const REQUEST_TIMEOUT_MS = 120_000;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** Hosts served over plain HTTP, like `oras --plain-http`: the machine itself, never the network. */
function isLoopback(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(?:\.\d{1,3}){3}$/.test(host);
}

/** docker.io is served by registry-1.docker.io (docker's own resolver does the same). */
function registryBase(registry: string): string {
  const host = registry === "docker.io" || registry === "index.docker.io" ? "registry-1.docker.io" : registry;
  return `${isLoopback(registry) ? "http" : "https"}://${host}`;
}

const DIGEST = /^sha256:([a-f0-9]{64})$/;

function sha256(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** The `key="value"` parameters of one WWW-Authenticate challenge. */
function challengeParams(header: string): { scheme: string; params: Record<string, string> } {
  const scheme = header.trim().split(/\s+/, 1)[0]?.toLowerCase() ?? "";
  const params: Record<string, string> = {};
  for (const match of header.slice(scheme.length).matchAll(/([A-Za-z_]+)=(?:"([^"]*)"|([^\s,]*))/g)) {
    params[(match[1] ?? "").toLowerCase()] = match[2] ?? match[3] ?? "";
  }
  return { scheme, params };
}

/** Reads at most `limit` bytes of a response body; more is an error naming `what`. */
async function readBounded(response: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel();
    throw new RegistryError(`${what} is ${declared} bytes, more than the ${limit} allowed`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    for await (const chunk of response.body) {
      total += chunk.byteLength;
      if (total > limit) {
        await response.body.cancel().catch(() => {});
        throw new RegistryError(`${what} is more than the ${limit} bytes allowed`);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}

/** The registry's error answer (distribution-spec `{"errors":[{code,message}]}`), shortened. */
async function describeFailure(response: Response): Promise<string> {
  let detail = "";
  try {
    const text = (await readBounded(response, 64 * 1024, "the error answer")).toString("utf8");
    try {
      // distribution-spec errors, or a token service's {"details"|"message"|"error": "..."}
      // (Docker Hub's answers {"details":"incorrect username or password"}).
      const body = JSON.parse(text) as {
        errors?: Array<{ code?: string; message?: string }>;
        details?: unknown;
        message?: unknown;
        error?: unknown;
      };
      detail = body.errors
        ? body.errors.map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ")
        : ([body.details, body.message, body.error].find((v): v is string => typeof v === "string") ?? "");
    } catch {
      detail = text.trim();
    }
  } catch {
    // The status says enough.
  }
  const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  return detail ? `${status} (${detail.slice(0, 300)})` : status;
}

export class RegistryClient {
  private readonly base: string;
  private authorization: string | undefined;

  constructor(
    private readonly reference: OciReference,
    private readonly credentials: RegistryCredentials | undefined,
  ) {
    this.base = registryBase(reference.registry);
  }

  /** GET with the current authorization; a 401 is answered once per its challenge, then retried. */
  private async get(path: string, accept?: string): Promise<Response> {
    const url = `${this.base}/v2/${this.reference.repository}/${path}`;
    let response = await this.follow(url, accept);
    if (response.status === 401 && (await this.authenticate(response))) {
      response = await this.follow(url, accept);
    }
    return response;
  }

  /**
   * GET following redirects by hand: registries send blobs elsewhere (ghcr.io to its CDN, an
   * S3-backed distribution to a presigned URL), and the registry's credentials must not follow
   * them to another origin (a presigned request with an Authorization header is also refused by
   * S3), nor go from https to plain http.
   */
  private async follow(start: string, accept?: string): Promise<Response> {
    let url = new URL(start);
    const origin = url.origin;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const response = await fetch(url, {
        headers: {
          ...(accept ? { accept } : {}),
          ...(this.authorization && url.origin === origin ? { authorization: this.authorization } : {}),
        },
        redirect: "manual",
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const location = response.headers.get("location");
      if (![301, 302, 303, 307, 308].includes(response.status) || !location) return response;
      await response.body?.cancel();
      const next = new URL(location, url);
      // Plain http only from a registry on this machine to this machine (tests, a local mirror).
      const local = url.protocol === "http:" && next.protocol === "http:" && isLoopback(next.host);
      if (next.protocol !== "https:" && !local) {
        throw new RegistryError(`the registry redirected to ${next.origin}, which is not https`);
      }
      url = next;
    }
    throw new RegistryError(`the registry redirected more than ${MAX_REDIRECTS} times`);
  }

  /** Sets `authorization` from a 401's challenge; false when there is nothing more to try. */
  private async authenticate(response: Response): Promise<boolean> {
    const header = response.headers.get("www-authenticate");
    if (!header) return false;
    const { scheme, params } = challengeParams(header);
    const basic =
      this.credentials?.kind === "basic"
        ? `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString("base64")}`
        : undefined;
    if (scheme === "basic") {
      if (!basic || this.authorization === basic) return false;
      await response.body?.cancel();
      this.authorization = basic;
      return true;
    }
    if (scheme !== "bearer" || !params.realm) return false;
    if (this.authorization?.startsWith("Bearer ")) return false; // the token we had was refused
    await response.body?.cancel();
    this.authorization = `Bearer ${await this.token(params, basic)}`;
    return true;
  }

  /** A pull token from the challenge's realm (docker's token authentication specification). */
  private async token(params: Record<string, string>, basic: string | undefined): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(params.realm ?? "");
    } catch {
      throw new RegistryError(`the registry's token realm ${JSON.stringify(params.realm)} is not a URL`);
    }
    // Credentials travel over TLS only, except from a registry on this machine to a token service
    // on it (plain HTTP, tests): a remote registry cannot send them to plain http anywhere.
    const local = isLoopback(this.reference.registry) && realm.protocol === "http:" && isLoopback(realm.host);
    if (realm.protocol !== "https:" && !local) {
      throw new RegistryError(`the registry's token realm ${realm.origin} is not https`);
    }
    if (params.service) realm.searchParams.set("service", params.service);
    realm.searchParams.set("scope", params.scope ?? `repository:${this.reference.repository}:pull`);
    const identity = this.credentials?.kind === "identity-token" ? this.credentials.token : undefined;
    const response = identity
      ? await fetch(realm.origin + realm.pathname, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "refresh_token",
            refresh_token: identity,
            service: params.service ?? "",
            scope: realm.searchParams.get("scope") ?? "",
            client_id: "squadron",
          }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        })
      : await fetch(realm, {
          headers: basic ? { authorization: basic } : {},
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
    if (!response.ok) {
      throw new RegistryError(`the registry's token service answered ${await describeFailure(response)}`);
    }
    const body = JSON.parse(
      (await readBounded(response, 1024 * 1024, "the token answer")).toString("utf8"),
    ) as {
      token?: string;
      access_token?: string;
    };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError("the registry's token service answered without a token");
    return token;
  }

  /** The image manifest of the reference (its digest checked when the reference pins one). */
  async manifest(): Promise<ImageManifest> {
    const ref = this.reference.digest ?? this.reference.tag ?? "";
    const response = await this.get(
      `manifests/${ref}`,
      [...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES].join(", "),
    );
    if (!response.ok)
      throw new RegistryError(`GET manifest ${ref} answered ${await describeFailure(response)}`);
    const body = await readBounded(response, MAX_MANIFEST_BYTES, "the manifest");
    if (this.reference.digest && sha256(body) !== this.reference.digest) {
      throw new RegistryError(
        `the manifest's digest is ${sha256(body)}, not the ${this.reference.digest} asked for`,
      );
    }
    let manifest: ImageManifest;
    try {
      manifest = JSON.parse(body.toString("utf8")) as ImageManifest;
    } catch {
      throw new RegistryError("the manifest is not JSON");
    }
    const mediaType = manifest.mediaType ?? response.headers.get("content-type") ?? "";
    if (INDEX_MEDIA_TYPES.includes(mediaType)) {
      throw new RegistryError(
        `the reference is an image index (${mediaType}), not a skill artifact: push the skill with oras push`,
      );
    }
    if (!Array.isArray(manifest.layers) || manifest.layers.some((l) => !isDescriptor(l))) {
      throw new RegistryError("the manifest has no valid layers (an OCI image manifest is expected)");
    }
    return manifest;
  }

  /** One blob, at most `limit` bytes, checked against its descriptor's size and sha256 digest. */
  async blob(descriptor: Descriptor, limit: number): Promise<Buffer> {
    if (!DIGEST.test(descriptor.digest)) {
      throw new RegistryError(`the layer digest ${JSON.stringify(descriptor.digest)} is not sha256`);
    }
    if (descriptor.size > limit) {
      throw new RegistryError(
        `the layer ${descriptor.digest} is ${descriptor.size} bytes, more than the ${limit} allowed`,
      );
    }
    const response = await this.get(`blobs/${descriptor.digest}`);
    if (!response.ok) {
      throw new RegistryError(`GET blob ${descriptor.digest} answered ${await describeFailure(response)}`);
    }
    const data = await readBounded(response, descriptor.size, `the layer ${descriptor.digest}`);
    if (data.byteLength !== descriptor.size) {
      throw new RegistryError(
        `the layer ${descriptor.digest} is ${data.byteLength} bytes, not the ${descriptor.size} its manifest says`,
      );
    }
    const actual = sha256(data);
    if (actual !== descriptor.digest) {
      throw new RegistryError(
        `the layer ${descriptor.digest} has the digest ${actual}: its content is not what the manifest names`,
      );
    }
    return data;
  }
}

function isDescriptor(value: unknown): value is Descriptor {
  const d = value as Descriptor;
  return (
    typeof d === "object" &&
    d !== null &&
    typeof d.mediaType === "string" &&
    typeof d.digest === "string" &&
    Number.isSafeInteger(d.size) &&
    d.size >= 0
  );
}
