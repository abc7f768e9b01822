import { gunzipSync } from "node:zlib";
import { formatOciReference, parseOciReference } from "../../core/manifest/oci-reference.ts";
import { type RegistryCredentials, registryCredentials } from "./docker-config.ts";
import { RegistryClient } from "./oci-registry.ts";
import {
  ArchiveError,
  confinedRelative,
  makeConfinedDir,
  readTar,
  writeConfinedFile,
} from "./tar-extract.ts";

/**
 * kagents v0.8 `skills[].source.oci`: a skill directory published with
 * `oras push <ref> --artifact-type application/vnd.kagents.skill.v1 .`, pulled the way `oras pull`
 * writes it (kagents runs `oras pull` into the skill's directory).
 *
 * What oras-go produces (github.com/oras-project/oras-go, content/file/file.go and pack.go):
 * - a directory is one layer, `application/vnd.oci.image.layer.v1.tar+gzip` (defaultBlobDirMediaType),
 *   annotated `org.opencontainers.image.title: <name as given>` and `io.deis.oras.content.unpack:
 *   "true"` (plus `io.deis.oras.content.digest`, the uncompressed tar's digest); the tar's entries
 *   are `<name>/<path>` (tarDirectory joins the name with each path, so `.` gives bare paths) and
 *   `oras pull` extracts them to `<output>/<name>` (extractTarDirectory);
 * - a file is one layer (`application/vnd.oci.image.layer.v1.tar` unless a type is given) titled
 *   with its name, written to `<output>/<title>`; layers without a title are skipped by oras pull;
 * - the manifest is an OCI image manifest; with image-spec v1.1 (oras 1.2, what kagents runs) it
 *   has `artifactType` and the empty config `application/vnd.oci.empty.v1+json` (packManifestV1_1).
 * The config blob carries nothing a skill needs, so only the layers are fetched.
 */

/** Bounds on one skill: what its blobs may weigh, what they may unpack to, how many files. */
export const OCI_SKILL_LIMITS = {
  /** Compressed bytes of all layers (kagents: "most skills measure in kilobytes"). */
  maxBlobBytes: 50 * 1024 * 1024,
  /** Bytes written to the skill's directory. */
  maxUnpackedBytes: 50 * 1024 * 1024,
  maxFiles: 1000,
};

const ANNOTATION_TITLE = "org.opencontainers.image.title";
const ANNOTATION_UNPACK = "io.deis.oras.content.unpack";

export interface PullOciSkillOptions {
  /** The dockerconfigjson of the team's first imagePullSecret, when it has one. */
  dockerConfig?: { secret: string; value: string };
  limits?: typeof OCI_SKILL_LIMITS;
}

/** The registry credentials for `registry` in the pull secret, if any. */
function credentialsFor(registry: string, options: PullOciSkillOptions): RegistryCredentials | undefined {
  if (!options.dockerConfig) return undefined;
  return registryCredentials(
    options.dockerConfig.value,
    registry,
    `the imagePullSecret "${options.dockerConfig.secret}"`,
  );
}

/**
 * How a pull of `reference` authenticates, for its error message: with the pull secret, or
 * anonymously (no secret, or a secret without credentials for that registry).
 */
export function pullAuthText(reference: string, options: PullOciSkillOptions): string {
  if (!options.dockerConfig) return "anonymously (no spec.imagePullSecrets)";
  const parsed = parseOciReference(reference);
  const named = `the imagePullSecret "${options.dockerConfig.secret}"`;
  try {
    if ("reference" in parsed && !credentialsFor(parsed.reference.registry, options)) {
      return `anonymously (${named} has no credentials for ${parsed.reference.registry})`;
    }
  } catch {
    // Not a docker config: the pull's own error says so.
  }
  return `with ${named}`;
}

/**
 * Pulls the artifact `reference` into `dir` (an empty directory the caller made), as `oras pull`
 * would. Answers the relative paths written. Throws with the registry's answer on any failure.
 */
export async function pullOciSkill(
  reference: string,
  dir: string,
  options: PullOciSkillOptions = {},
): Promise<string[]> {
  const limits = options.limits ?? OCI_SKILL_LIMITS;
  const parsed = parseOciReference(reference);
  if ("problem" in parsed) throw new Error(parsed.problem);
  const ref = parsed.reference;
  const client = new RegistryClient(ref, credentialsFor(ref.registry, options));
  const manifest = await client.manifest();
  const blobBytes = manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
  if (blobBytes > limits.maxBlobBytes) {
    throw new Error(
      `${formatOciReference(ref)}: its layers weigh ${blobBytes} bytes, more than the ${limits.maxBlobBytes} a skill may`,
    );
  }
  const written = new Set<string>();
  let unpacked = 0;
  const account = (rel: string, size: number) => {
    written.add(rel);
    unpacked += size;
    if (written.size > limits.maxFiles)
      throw new ArchiveError(`the skill has more than ${limits.maxFiles} files`);
    if (unpacked > limits.maxUnpackedBytes) {
      throw new ArchiveError(`the skill unpacks to more than ${limits.maxUnpackedBytes} bytes`);
    }
  };
  for (const layer of manifest.layers) {
    const title = layer.annotations?.[ANNOTATION_TITLE];
    if (title === undefined) continue; // oras pull skips layers with no file name
    const base = confinedRelative(title);
    const data = await client.blob(layer, limits.maxBlobBytes);
    if (layer.annotations?.[ANNOTATION_UNPACK] !== "true") {
      account(base, data.byteLength);
      await writeConfinedFile(dir, base, data, 0o644);
      continue;
    }
    // oras-go extractTarGzip: the unpack layer is always a gzip'd tar.
    let tar: Buffer;
    try {
      tar = gunzipSync(data, { maxOutputLength: limits.maxUnpackedBytes + 1024 * 1024 });
    } catch (error) {
      throw new ArchiveError(
        (error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE"
          ? `the layer ${JSON.stringify(title)} unpacks to more than ${limits.maxUnpackedBytes} bytes`
          : `the layer ${JSON.stringify(title)} is not gzip: ${(error as Error).message}`,
      );
    }
    for (const entry of readTar(tar)) {
      const name = confinedRelative(entry.name);
      // Like oras' resolveRelToBase: every entry lies under the layer's title, and is written
      // where oras pull writes it, <title>/<path> (a title of "." is the directory itself).
      if (!(base === "" || name === base || name.startsWith(`${base}/`))) {
        throw new ArchiveError(
          `the entry ${JSON.stringify(entry.name)} is not under the layer's title ${JSON.stringify(title)}`,
        );
      }
      if (entry.type === "directory") {
        await makeConfinedDir(dir, name);
      } else {
        account(name, entry.data.byteLength);
        await writeConfinedFile(dir, name, entry.data, entry.mode);
      }
    }
  }
  return [...written].sort();
}
