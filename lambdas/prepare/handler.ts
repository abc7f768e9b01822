import {
  awsDeadlines,
  awsRunIndex,
  awsRunManifests,
  awsStore,
  awsWorkspaces,
} from "../../core/control/aws-deps.ts";
import { prepareRun } from "../../core/control/lifecycle.ts";
import { instrumented } from "../../core/control/observability.ts";
import type { PreparePayload, PrepareResult } from "../../state-machines/contract.ts";
import { perContainer } from "../shared.ts";

const container = perContainer("prepare", (logger) => ({
  store: awsStore(),
  runs: awsRunIndex(),
  workspaces: awsWorkspaces(),
  deadlines: awsDeadlines(),
  runManifests: awsRunManifests(),
  logger,
}));

/** Prepare: access point, task-definition revision, deadline, run manifest, phase Initializing. */
export async function handler(payload: PreparePayload): Promise<PrepareResult> {
  const { deps, t } = container();
  return instrumented(t, { teamRunId: payload.runId }, () =>
    prepareRun(
      deps,
      payload,
      process.env.SQUADRON_TEAM_DIR ? { teamDir: process.env.SQUADRON_TEAM_DIR } : {},
    ),
  );
}
