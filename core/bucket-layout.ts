/**
 * Where things live in Squadron's bucket. One module because four parties must agree: Prepare
 * writes run manifests, the runner reads manifests and inputs, the outputs function writes a run's
 * outputs, and infra/ grants each of them exactly its prefixes. Dependency-free (the CDK app
 * imports it).
 *
 * Runner containers (where model-driven agents run shells) may only read `run-manifests/`,
 * `inputs/` and `configmaps/`; they write nothing. A run's outputs are written by the trusted
 * outputs function, to the run's own prefix, which it derives from the run id.
 */
export const BUCKET_AREAS = {
  /** `run-manifests/<runId>.json`: written by Prepare, read by the run's runner containers. */
  runManifests: "run-manifests/",
  /** `runs/<namespace>/<team>/<runId>/output/`: a run's delivered outputs. */
  runs: "runs/",
  /** `outputs/<namespace>/...`: outputs delivered where a manifest's `workspace.output.s3Prefix` says. */
  outputs: "outputs/",
  /** Cowork inputs and skills referenced by a relative `s3Prefix`. */
  inputs: "inputs/",
  /** kagents' ConfigMap inputs and skills: `configmaps/<namespace>/<name>/`. */
  configMaps: "configmaps/",
} as const;

/** Key of a run's manifest (`{runId, team, deadline}`, core/control/run-manifest.ts). */
export function runManifestKey(runId: string): string {
  return `${BUCKET_AREAS.runManifests}${runId}.json`;
}

/** Default delivery prefix of a cowork run's outputs. */
export function runOutputPrefix(namespace: string, team: string, runId: string): string {
  return `${BUCKET_AREAS.runs}${namespace}/${team}/${runId}/output/`;
}

/** Where a manifest may deliver outputs in Squadron's bucket: its namespace's area of `outputs/`. */
export function namespaceOutputArea(namespace: string): string {
  return `${BUCKET_AREAS.outputs}${namespace}/`;
}

/**
 * Where runners read inputs and skills (their read grant): `inputs/`, the only area a relative
 * `s3Prefix` may name (core/manifest/rules.ts), and `configmaps/`, reached through `configMap`.
 */
export const READABLE_INPUT_AREAS = [BUCKET_AREAS.inputs, BUCKET_AREAS.configMaps] as const;
