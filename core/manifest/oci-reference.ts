/**
 * OCI artifact references as kagents' `skills[].source.oci` writes them
 * (`ghcr.io/myorg/skills/my-skill:v1`, or pinned `...@sha256:<hex>`), following the grammar of
 * distribution's reference package (github.com/distribution/reference, regexp.go): a registry
 * host with an optional port, a lowercase repository path, an optional tag and an optional digest.
 * Squadron asks for the registry host explicitly (no implied docker.io): a skill pulled from
 * somewhere the manifest does not say is a surprise nobody wants.
 */

export interface OciReference {
  /** Host and optional port, e.g. "ghcr.io" or "127.0.0.1:5000". */
  registry: string;
  /** The repository path inside the registry, e.g. "myorg/skills/my-skill". */
  repository: string;
  tag?: string;
  /** `sha256:<64 hex>`; when set it is what is pulled (the tag, if any, is informational). */
  digest?: string;
}

// distribution/reference: domain components, an optional port; path components separated by "/".
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const REGISTRY = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?$`,
);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

const EXAMPLE =
  '"ghcr.io/myorg/skills/my-skill:v1" or "ghcr.io/myorg/skills/my-skill@sha256:<64 hex digits>"';

/** The parsed reference, or a message saying what is wrong with it (for a validation error). */
export function parseOciReference(value: string): { reference: OciReference } | { problem: string } {
  const shown = JSON.stringify(value);
  if (value.length > 512) return { problem: `The OCI reference is longer than 512 characters.` };
  let rest = value;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      return {
        problem: `The digest of the OCI reference ${shown} must be sha256: and 64 lowercase hex digits.`,
      };
    }
  }
  const slash = rest.indexOf("/");
  if (slash < 0) {
    return {
      problem: `The OCI reference ${shown} names no registry: give registry/repository[:tag][@sha256:digest], e.g. ${EXAMPLE}.`,
    };
  }
  const registry = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  let tag: string | undefined;
  const colon = path.lastIndexOf(":");
  if (colon >= 0) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
    if (!TAG.test(tag)) {
      return {
        problem: `The tag ${JSON.stringify(tag)} of the OCI reference ${shown} is not a valid tag (letters, digits, _ . -, at most 128).`,
      };
    }
  }
  // Like docker, a first component without "." or ":" that is not localhost is a path, not a host.
  const looksLikeHost = registry.includes(".") || registry.includes(":") || registry === "localhost";
  if (!looksLikeHost || !REGISTRY.test(registry)) {
    return {
      problem: `The OCI reference ${shown} must start with a registry host (e.g. ghcr.io or localhost:5000), then the repository: ${EXAMPLE}.`,
    };
  }
  if (path === "" || !path.split("/").every((part) => PATH_COMPONENT.test(part))) {
    return {
      problem: `The repository ${JSON.stringify(path)} of the OCI reference ${shown} must be lowercase path components (letters, digits, and . _ - between them) separated by "/".`,
    };
  }
  if (tag === undefined && digest === undefined) {
    return { problem: `The OCI reference ${shown} needs a tag or a digest: ${EXAMPLE}.` };
  }
  return {
    reference: { registry, repository: path, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) },
  };
}

/** The reference as written back (registry/repository[:tag][@digest]). */
export function formatOciReference(ref: OciReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}
