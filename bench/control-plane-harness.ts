/**
 * The control plane as local mode runs it, on DynamoDB Local: the synthesised definition executed
 * by LocalStepFunctions (aws-local-stepfunctions), its Task states bound to the real domain
 * functions (prepare, dependencies, approvals, cleanup), budget checks by the local stack's
 * BudgetWatch. Only the containers are replaced: the bench binds RunAgent (and WorkspaceInit /
 * Finalize answer at once), so figures show the control plane and not process start-up.
 */
import { randomBytes } from "node:crypto";
import { awaitApproval } from "../core/control/approvals.ts";
import type { DeadlineScheduler } from "../core/control/deadline-scheduler.ts";
import { recordAgentResult, waitForDependencies } from "../core/control/dependencies.ts";
import type { ControlDeps, ControlLogger } from "../core/control/deps.ts";
import { onExecutionStatus } from "../core/control/guards.ts";
import { cleanupRun, prepareRun } from "../core/control/lifecycle.ts";
import { ChannelGateNotifier } from "../core/control/notifications.ts";
import { RunIndex } from "../core/control/run-index.ts";
import { NoopRunWorkspaces } from "../core/control/run-workspace.ts";
import { NoTeamFiles } from "../core/control/team-files.ts";
import { createTable } from "../core/store/table-definition.ts";
import { TeamStore } from "../core/store/team-store.ts";
import { BudgetWatch } from "../local/budget-watch.ts";
import { type LocalExecution, LocalStepFunctions } from "../local/step-functions.ts";
import { ecsStoppedTask } from "../state-machines/contract.ts";
import type { TaskHandlers } from "../state-machines/local.ts";
import type { AslDefinition } from "../state-machines/synth.ts";
import { localDynamoDbClient, startDynamoDbLocal } from "../test/support/dynamodb-local.ts";

export type Bindings = (execution: LocalExecution, plane: ControlPlane) => Partial<TaskHandlers>;

export interface ControlPlane {
  deps: ControlDeps;
  store: TeamStore;
  sfn: LocalStepFunctions;
  budget: BudgetWatch;
  /** Resolves when the run's execution has ended and its status change was handled. */
  ended(runId: string): Promise<string>;
  /** Errors the domain code logged (a bench run with errors is not a measurement). */
  errors: string[];
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  definition: AslDefinition;
  /** Overrides of the default bindings, per execution (RunAgent must be given). */
  bind: Bindings;
  /** A TeamStore subclass to observe writes (default TeamStore). */
  storeClass?: typeof TeamStore;
  /** Wraps StopExecution (to time it); called before the execution is stopped. */
  onStop?: (executionArn: string) => void;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const ddb = await startDynamoDbLocal({ install: true });
  const client = localDynamoDbClient(ddb.endpoint);
  const tableName = `bench-control-${randomBytes(4).toString("hex")}`;
  await createTable(client, tableName);

  const errors: string[] = [];
  const logger: ControlLogger = {
    info() {},
    warn(message, ...extra) {
      errors.push(`warn: ${message} ${JSON.stringify(extra)}`);
    },
    error(message, ...extra) {
      errors.push(`error: ${message} ${JSON.stringify(extra)}`);
    },
  };
  const deadlines: DeadlineScheduler = { arm: async () => {}, disarm: async () => {} };
  const endings = new Map<string, { promise: Promise<string>; resolve: (phase: string) => void }>();
  const ending = (runId: string) => {
    let entry = endings.get(runId);
    if (!entry) {
      let resolve!: (phase: string) => void;
      const promise = new Promise<string>((r) => {
        resolve = r;
      });
      entry = { promise, resolve };
      endings.set(runId, entry);
    }
    return entry;
  };

  const Store = options.storeClass ?? TeamStore;
  const store = new Store({ client, tableName });
  let plane!: ControlPlane;
  let deps!: ControlDeps;
  const sfn: LocalStepFunctions = new LocalStepFunctions({
    definition: options.definition,
    maxConcurrentRuns: 8,
    handlersFor: (execution) => ({ ...defaultBindings(execution), ...options.bind(execution, plane) }),
    onStatusChange: async (detail) => {
      const phase = (await onExecutionStatus(deps, detail)) ?? "unknown";
      ending(detail.name).resolve(phase);
    },
  });
  if (options.onStop) {
    const stop = sfn.stop.bind(sfn);
    const onStop = options.onStop;
    sfn.stop = async (arn, reason) => {
      onStop(arn);
      return stop(arn, reason);
    };
  }
  deps = {
    store,
    runs: new RunIndex(client, tableName),
    starter: sfn,
    stopper: sfn,
    tokens: sfn,
    notifier: new ChannelGateNotifier({ logger }),
    workspaces: new NoopRunWorkspaces(),
    deadlines,
    runManifests: { write: async (m) => `memory://${m.runId}` },
    teamFiles: new NoTeamFiles(),
    logger,
  };

  /** The same calls local/task-bindings.ts makes, minus the runner processes. */
  function defaultBindings(execution: LocalExecution): TaskHandlers {
    return {
      Prepare: (payload) => prepareRun(deps, payload),
      WorkspaceInit: async () => ecsStoppedTask(),
      WaitForDependencies: async (payload) => {
        const { token, wait } = sfn.registerToken(execution, `deps-${payload.agentName}`);
        await waitForDependencies(deps, { ...payload, taskToken: token });
        return wait;
      },
      ApprovalGate: async (payload) => {
        const { token, wait } = sfn.registerToken(execution, `gate-${payload.gate}`);
        await awaitApproval(deps, { ...payload, taskToken: token });
        return wait;
      },
      RunAgent: async () => {
        throw new Error("RunAgent must be bound by the benchmark");
      },
      RecordAgentResult: (payload) => recordAgentResult(deps, payload),
      Finalize: async () => ecsStoppedTask(),
      DeliverOutputs: async () => ({ location: "", files: 0 }),
      Cleanup: (payload) => cleanupRun(deps, payload),
    };
  }

  const budget = new BudgetWatch(client, tableName, deps);
  plane = {
    deps,
    store,
    sfn,
    budget,
    ended: (runId) => ending(runId).promise,
    errors,
    close: async () => {
      await budget.close();
      await sfn.shutdown();
      client.destroy();
      await ddb.stop();
    },
  };
  return plane;
}
