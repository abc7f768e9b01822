import { lstat } from "node:fs/promises";
import { join } from "node:path";
import {
  type DeliverOutputsPayload,
  type DeliverOutputsResult,
  MAX_LISTED_OUTPUTS,
  OUTPUTS_NOT_DELIVERED,
} from "../../state-machines/contract.ts";
import { runOutputPrefix } from "../bucket-layout.ts";
import { assertConfinedDir, ConfinementError } from "../confined-fs.ts";
import type { AgentTeam } from "../manifest/types.ts";
import { resolveMountPath, runLayout } from "../run-files/layout.ts";
import {
  normalisePrefix,
  type ObjectLocation,
  type ObjectStore,
  parseS3Location,
} from "../run-files/object-store.ts";
import { normalEvent } from "../status/status.ts";
import type { ControlDeps } from "./deps.ts";
import { recordEvent } from "./team-runs.ts";

/** Fails the DeliverOutputs state; its name is the state's error (Step Functions `Error`). */
export class OutputsNotDelivered extends Error {
  override readonly name = OUTPUTS_NOT_DELIVERED;
}

export interface RunOutputsDeps extends Pick<ControlDeps, "store" | "logger"> {
  /** Squadron's bucket in AWS, the data directory's `objects/` locally. */
  objects: ObjectStore;
  /** Root of the runs' directories: the read-only EFS mount in AWS, `<data>/runs` locally. */
  runsDir: string;
}

/** Where a cowork run's outputs go: the manifest's `workspace.output.s3Prefix`, else the run's own prefix. */
export function outputLocation(team: AgentTeam, runId: string): ObjectLocation {
  const s3Prefix = team.spec.workspace?.output.s3Prefix;
  return s3Prefix
    ? parseS3Location(s3Prefix)
    : { prefix: runOutputPrefix(team.metadata.namespace, team.metadata.name, runId) };
}

/**
 * DeliverOutputs: copies a finished cowork run's output directory from the shared file system to
 * the object store, and records where it went. Runs in the trusted outputs function, not in a
 * runner container: the containers run model-driven shells and hold no write access to the
 * bucket, so no agent can write another run's outputs. The target is derived here from the run
 * id and the validated manifest. Idempotent: a retry writes the same keys again.
 */
export async function deliverRunOutputs(
  deps: RunOutputsDeps,
  payload: DeliverOutputsPayload,
  /** Aborted when the state ends without the result (local mode: its timeout): the copy stops. */
  options: { signal?: AbortSignal } = {},
): Promise<DeliverOutputsResult> {
  const ref = { namespace: payload.namespace, name: payload.teamName };
  const record = await deps.store.getRun(ref);
  if (record.runId !== payload.runId) {
    throw new OutputsNotDelivered(
      `Run ${payload.runId} is no longer the current run of ${ref.namespace}/${ref.name} (that is ${record.runId}); its outputs were not delivered.`,
    );
  }
  const team = record.team;
  if (team.spec.mode !== "cowork") return { location: "", files: 0 };
  if (!/^[A-Za-z0-9_-]+$/.test(payload.runId))
    throw new OutputsNotDelivered(`invalid run id ${payload.runId}`);

  const layout = runLayout(join(deps.runsDir, payload.runId));
  const mountPath = team.spec.workspace?.output.mountPath ?? "/workspace/output";
  const outputDir = resolveMountPath(layout, mountPath);
  const location = outputLocation(team, payload.runId);
  const target = deps.objects.describe(location);
  // The agents shaped everything below the run's directory: the output directory must be a real
  // directory of this run at every component (`output -> ../../<other run>` is refused), and each
  // file is opened confined to the run's directory.
  try {
    await assertConfinedDir(layout.runDir, outputDir);
  } catch (error) {
    if (error instanceof ConfinementError) {
      throw new OutputsNotDelivered(
        `The outputs in ${mountPath} were not delivered: ${error.message} (runs/${payload.runId}${outputDir.slice(layout.runDir.length)} must be a directory of the run, not a link).`,
      );
    }
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  let files: string[];
  try {
    files = await deps.objects.upload(outputDir, location, {
      root: layout.runDir,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    const reason = (error as Error).message || (error as Error).name;
    throw new OutputsNotDelivered(
      `The outputs in ${mountPath} could not be delivered to ${target}: ${reason}. They stay in the run's directory (runs/${payload.runId}${outputDir.slice(layout.runDir.length)} on the shared file system); a bucket other than Squadron's must allow the outputs function's role to write (docs/deploy.md, "Outputs in your own bucket").`,
    );
  }
  deps.logger?.info("outputs delivered", { runId: payload.runId, location: target, files: files.length });
  await recordEvent(
    deps,
    { ...ref, runId: payload.runId },
    normalEvent(
      "OutputsDelivered",
      files.length === 0
        ? `The run wrote no files to ${mountPath}; nothing was delivered to ${target}.`
        : `Delivered ${files.length} output file${files.length === 1 ? "" : "s"} to ${target}.`,
    ),
  );
  return {
    location: target,
    files: files.length,
    artifacts: await listedOutputs(outputDir, files, location.prefix, target),
  };
}

/**
 * Name, size and destination of the first delivered files. lstat never follows a link an agent
 * planted (upload refused those anyway), and the agents have ended, so the sizes are what was sent.
 */
async function listedOutputs(
  outputDir: string,
  keys: string[],
  prefix: string,
  target: string,
): Promise<NonNullable<DeliverOutputsResult["artifacts"]>> {
  const base = target.endsWith("/") ? target : `${target}/`;
  const keyPrefix = normalisePrefix(prefix);
  return Promise.all(
    keys.slice(0, MAX_LISTED_OUTPUTS).map(async (key) => {
      const name = key.startsWith(keyPrefix) ? key.slice(keyPrefix.length) : key;
      return {
        name,
        size: await lstat(join(outputDir, name)).then(
          (s) => s.size,
          () => 0,
        ),
        location: `${base}${name}`,
      };
    }),
  );
}
