/**
 * The team-run state machine, built once in code. CDK deploys it (infra/constructs/
 * orchestration.ts); tests and local mode run the same definition after offline synth
 * (./synth.ts). Shapes and state names: ./contract.ts; the flow: docs/state-machine.md.
 *
 * JSONPath only: aws-local-stepfunctions silently ignores JSONata.
 */
import { Duration } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { Construct } from "constructs";
import { LEAD_FAILED, STATE_NAMES } from "./contract.ts";
import type { RunnerLauncher, StartCheckTask } from "./launchers.ts";

export interface TeamRunFunctions {
  prepare: lambda.IFunction;
  dependencies: lambda.IFunction;
  approvals: lambda.IFunction;
  /** Delivers a cowork run's outputs from the shared file system to the bucket. */
  outputs: lambda.IFunction;
  cleanup: lambda.IFunction;
}

export interface TeamRunDefinitionProps {
  functions: TeamRunFunctions;
  launcher: RunnerLauncher;
  /** Agents running at once within one run (Map MaxConcurrency). Defaults to 20. */
  maxConcurrency?: number;
}

/** Lambda invoke errors worth retrying (the service, not the function's own errors). */
export const LAMBDA_SERVICE_ERRORS = [
  "Lambda.ServiceException",
  "Lambda.AWSLambdaException",
  "Lambda.SdkClientException",
  "Lambda.TooManyRequestsException",
];

const RUN = "$.run";
const PREPARED_RUN = "$.prepared.run";

function retryLambdaServiceErrors<T extends sfn.TaskStateBase>(task: T, maxAttempts = 3): T {
  task.addRetry({
    errors: LAMBDA_SERVICE_ERRORS,
    interval: Duration.seconds(1),
    backoffRate: 2,
    maxAttempts,
    maxDelay: Duration.seconds(30),
    jitterStrategy: sfn.JitterType.FULL,
  });
  return task;
}

function invoke(
  scope: Construct,
  id: string,
  fn: lambda.IFunction,
  payload: sfn.TaskInput,
  resultPath: string,
) {
  return retryLambdaServiceErrors(
    new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fn,
      payload,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath,
    }),
  );
}

/** The start check of a launch runs in the dependencies function (core/control/runner-start.ts). */
function startCheck(functions: TeamRunFunctions): StartCheckTask {
  return (scope, id, payload, resultPath) => invoke(scope, id, functions.dependencies, payload, resultPath);
}

function waitForToken(
  scope: Construct,
  id: string,
  fn: lambda.IFunction,
  payload: Record<string, unknown>,
): tasks.LambdaInvoke {
  return retryLambdaServiceErrors(
    new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: fn,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: sfn.TaskInput.fromObject({ ...payload, taskToken: sfn.JsonPath.taskToken }),
      retryOnServiceExceptions: false,
      // A waiter never outlives the run; the deadline handler stops the execution anyway.
      taskTimeout: sfn.Timeout.at(`${RUN}.timeoutSeconds`),
      resultPath: sfn.JsonPath.DISCARD,
    }),
  );
}

/** The per-agent branch run by each Map iteration (state: AgentIterationState). */
function agentBranch(scope: Construct, props: TeamRunDefinitionProps): sfn.IChainable {
  const { functions, launcher } = props;

  const waitForDependencies = waitForToken(scope, STATE_NAMES.waitForDependencies, functions.dependencies, {
    action: "wait",
    runId: sfn.JsonPath.stringAt(`${RUN}.runId`),
    agentName: sfn.JsonPath.stringAt("$.agent.name"),
    dependsOn: sfn.JsonPath.listAt("$.agent.dependsOn"),
  });
  const approvalGate = waitForToken(scope, STATE_NAMES.approvalGate, functions.approvals, {
    action: "awaitApproval",
    runId: sfn.JsonPath.stringAt(`${RUN}.runId`),
    agentName: sfn.JsonPath.stringAt("$.agent.name"),
    gate: sfn.JsonPath.stringAt("$.agent.approvalGate"),
  });
  const runAgent = launcher.containerTask(scope, STATE_NAMES.runAgent, {
    mode: "agent",
    runPath: RUN,
    resultPath: "$.state.result",
    startCheck: startCheck(functions),
  });
  const recordAgentResult = invoke(
    scope,
    STATE_NAMES.recordAgentResult,
    functions.dependencies,
    sfn.TaskInput.fromObject({
      action: "record",
      runId: sfn.JsonPath.stringAt(`${RUN}.runId`),
      agentName: sfn.JsonPath.stringAt("$.agent.name"),
      role: sfn.JsonPath.stringAt("$.agent.role"),
      maxRestarts: sfn.JsonPath.numberAt("$.agent.maxRestarts"),
      state: sfn.JsonPath.objectAt("$.state"),
    }),
    "$.state",
  );

  // Every way an attempt can end goes through RecordAgentResult, so the store and the
  // dependants always learn the outcome (a denial or a failed dependency included).
  const toRecord = { errors: [sfn.Errors.ALL], resultPath: "$.state.error" };
  waitForDependencies.addCatch(recordAgentResult, toRecord);
  approvalGate.addCatch(recordAgentResult, toRecord);
  runAgent.addCatch(recordAgentResult, toRecord);

  const outcome = (id: string) =>
    new sfn.Pass(scope, id, {
      parameters: {
        agentName: sfn.JsonPath.stringAt("$.agent.name"),
        role: sfn.JsonPath.stringAt("$.agent.role"),
        outcome: sfn.JsonPath.stringAt("$.state.outcome"),
        attempts: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt("$.state.attempt"), 1),
        reason: sfn.JsonPath.stringAt("$.state.reason"),
      },
    });
  const leadFailed = new sfn.Fail(scope, STATE_NAMES.leadFailed, {
    error: LEAD_FAILED,
    causePath: "$.state.reason",
  });

  const agentOutcome = new sfn.Choice(scope, STATE_NAMES.agentOutcome)
    .when(
      // The role check makes "never restart the lead" hold even if a handler asks for it.
      sfn.Condition.and(
        sfn.Condition.booleanEquals("$.state.restart", true),
        sfn.Condition.stringEquals("$.agent.role", "teammate"),
      ),
      runAgent,
    )
    .when(sfn.Condition.stringEquals("$.state.outcome", "Succeeded"), outcome(STATE_NAMES.agentSucceeded))
    .when(sfn.Condition.stringEquals("$.agent.role", "lead"), leadFailed)
    .otherwise(outcome(STATE_NAMES.teammateFailed));

  runAgent.next(recordAgentResult);
  recordAgentResult.next(agentOutcome);

  const needsApproval = new sfn.Choice(scope, STATE_NAMES.needsApproval)
    .when(sfn.Condition.isString("$.agent.approvalGate"), approvalGate.next(runAgent))
    .otherwise(runAgent);
  return new sfn.Choice(scope, STATE_NAMES.needsDependencies)
    .when(
      sfn.Condition.booleanEquals("$.agent.waitForDependencies", true),
      waitForDependencies.next(needsApproval),
    )
    .otherwise(needsApproval);
}

/**
 * Builds the team-run definition in `scope`. The caller wraps it in a StateMachine
 * (`sfn.DefinitionBody.fromChainable`) and grants the launcher's permissions to its role.
 */
export function buildTeamRunDefinition(parent: Construct, props: TeamRunDefinitionProps): sfn.IChainable {
  const { functions, launcher } = props;
  // States get construct ids equal to their names; a scope of their own keeps them unique.
  const scope = new Construct(parent, "TeamRunStates");

  const cleanup = retryLambdaServiceErrors(
    // The whole state is the payload. With payloadResponseOnly CDK would render
    // `"Parameters": "$"` (invalid ASL), so this uses lambda:invoke and selects the Payload.
    new tasks.LambdaInvoke(scope, STATE_NAMES.cleanup, {
      lambdaFunction: functions.cleanup,
      payload: sfn.TaskInput.fromJsonPathAt("$"),
      retryOnServiceExceptions: false,
      resultSelector: { phase: sfn.JsonPath.stringAt("$.Payload.phase") },
      resultPath: "$.cleanup",
    }),
    6,
  );
  const toCleanup = { errors: [sfn.Errors.ALL], resultPath: "$.failure" };

  const prepare = invoke(
    scope,
    STATE_NAMES.prepare,
    functions.prepare,
    sfn.TaskInput.fromObject({
      runId: sfn.JsonPath.stringAt("$.runId"),
      namespace: sfn.JsonPath.stringAt("$.namespace"),
      teamName: sfn.JsonPath.stringAt("$.teamName"),
      executionArn: sfn.JsonPath.executionId,
      startedAt: sfn.JsonPath.executionStartTime,
    }),
    "$.prepared",
  ).addCatch(cleanup, toCleanup);

  /** A container step of the whole run (workspace init, finalize): any failure goes to Cleanup. */
  const runStep = (id: string, mode: "init" | "finalize", resultPath: string) =>
    launcher
      .containerTask(scope, id, {
        mode,
        runPath: PREPARED_RUN,
        resultPath,
        startCheck: startCheck(functions),
      })
      .addCatch(cleanup, toCleanup);

  const workspaceInit = runStep(STATE_NAMES.workspaceInit, "init", "$.init");

  const runAgents = new sfn.Map(scope, STATE_NAMES.runAgents, {
    itemsPath: "$.prepared.agents",
    itemSelector: {
      run: sfn.JsonPath.objectAt(PREPARED_RUN),
      agent: sfn.JsonPath.objectAt("$$.Map.Item.Value"),
      state: { attempt: 0 },
    },
    maxConcurrency: props.maxConcurrency ?? 20,
    resultPath: "$.agents",
  });
  runAgents.itemProcessor(agentBranch(scope, props));
  runAgents.addCatch(cleanup, toCleanup);

  const finalize = runStep(STATE_NAMES.finalize, "finalize", "$.finalize");

  // Only the trusted outputs function writes to the bucket: runner containers cannot.
  const deliverOutputs = invoke(
    scope,
    STATE_NAMES.deliverOutputs,
    functions.outputs,
    sfn.TaskInput.fromObject({
      runId: sfn.JsonPath.stringAt("$.runId"),
      namespace: sfn.JsonPath.stringAt("$.namespace"),
      teamName: sfn.JsonPath.stringAt("$.teamName"),
    }),
    "$.outputs",
  ).addCatch(cleanup, toCleanup);
  deliverOutputs.next(cleanup);
  const deliversOutputs = new sfn.Choice(scope, STATE_NAMES.deliversOutputs)
    .when(sfn.Condition.stringEquals(`${PREPARED_RUN}.mode`, "cowork"), deliverOutputs)
    .otherwise(cleanup);

  const checkOutcome = new sfn.Choice(scope, STATE_NAMES.checkOutcome)
    .when(
      sfn.Condition.isPresent("$.failure"),
      new sfn.Fail(scope, STATE_NAMES.teamRunFailed, {
        errorPath: "$.failure.Error",
        causePath: "$.failure.Cause",
      }),
    )
    .otherwise(new sfn.Succeed(scope, STATE_NAMES.teamRunSucceeded));
  cleanup.next(checkOutcome);

  return prepare.next(workspaceInit).next(runAgents).next(finalize).next(deliversOutputs);
}
