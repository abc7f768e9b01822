/**
 * Constants the CDK app shares with the handlers and the runner. The handlers' environment
 * variable names are not here: they are `ENV` in core/control/env-names.ts, the one list both the
 * handlers and infra/ read.
 */

/** Where the runner container mounts the team directory (the run's EFS access point). */
export const TEAM_DIR = "/mnt/team";

/** Name of the EFS volume in the runner's base task definition; Prepare repoints it per run. */
export const RUNNER_VOLUME = "team";

/** Where the api function mounts the runs' root, read-only (Lambda requires a path under /mnt). */
export const RUNS_MOUNT = "/mnt/runs";
