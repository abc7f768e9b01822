/**
 * The two launch back-ends of the runner container, chosen at synth time. Both pass the same
 * runner environment (contract.ts RunnerEnvironment) and leave a ContainerRunResult.
 *
 * Both use CustomState: CDK's EcsRunTask needs a TaskDefinition object (our revision is
 * registered per run by Prepare, so its ARN comes from the state), and CDK has no
 * construct for `eks:runJob` at all.
 */
import { Duration, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import type { Construct } from "constructs";
import { AGENT_LABEL, ATTEMPT_LABEL, MODE_LABEL } from "../core/control/runner-start.ts";
import { RUNNER_CONTAINER_NAME, type RunnerMode } from "./contract.ts";

export interface ContainerTaskOptions {
  mode: RunnerMode;
  /** JSONPath of the RunContext in the state: `$.prepared.run` (top level) or `$.run` (Map). */
  runPath: string;
  resultPath: string;
  /**
   * Builds the Task that invokes the start check (core/control/runner-start.ts) with `payload`;
   * the EKS launcher polls it beside each Job. ECS needs none (a task that cannot start stops).
   */
  startCheck?: StartCheckTask;
}

export type StartCheckTask = (
  scope: Construct,
  id: string,
  payload: sfn.TaskInput,
  resultPath: string,
) => sfn.TaskStateBase;

/** A container launch as the definition chains it (a Task, or on EKS a Parallel with its watch). */
export type ContainerState = sfn.CustomState | sfn.Parallel;

export interface RunnerLauncher {
  readonly kind: "ecs" | "eks";
  containerTask(scope: Construct, id: string, options: ContainerTaskOptions): ContainerState;
  /** What the state machine's role needs to launch, watch and stop the containers. */
  grantLaunch(role: iam.IRole): void;
}

/** Deployment-wide runner settings, the same for every run. */
export interface RunnerStaticEnvironment {
  tableName: string;
  bucketName: string;
}

/** Errors of the launch itself (capacity, throttling), safe to retry: the agent never started. */
export const ECS_LAUNCH_ERRORS = ["ECS.AmazonECSException", "ECS.ServerException", "ThrottlingException"];
/**
 * eks:runJob reports a Kubernetes API failure as `EKS.<HTTP status>` (Step Functions developer
 * guide, "Call Amazon EKS with Step Functions", Permissions: a call the API server refuses fails
 * with "Error: EKS.401" and a Cause holding its StatusCode 401 and the Kubernetes Status):
 * retry only the API server's throttling and transient answers (429 Too Many Requests, 500,
 * 503), never a 4xx about the Job itself (400 invalid, 403 forbidden, 409 conflict).
 */
export const EKS_LAUNCH_ERRORS = ["EKS.429", "EKS.500", "EKS.503"];

/** Name of the Parallel that runs a Job beside its start watch: `RunAgentWithStartWatch`. */
export const EKS_START_WATCH_SUFFIX = "WithStartWatch";
/** Seconds between two looks at a launching pod (a few per launch: the watch ends once it runs). */
export const EKS_START_CHECK_INTERVAL_SECONDS = 15;

/** Where a runner pod finds its home (an emptyDir, writable by any uid) on EKS. */
export const EKS_RUNNER_HOME = "/home/run";
/**
 * The CPU architecture the runner image is built for (infra/constructs/compute.ts
 * RUNNER_IMAGE_ASSET builds linux/amd64 only): EKS pods are pinned to nodes of it, or an arm64
 * node would fail them with "exec format error".
 */
export const RUNNER_ARCHITECTURE = "amd64";
/** Labels of every runner Job and pod: Cleanup finds a run's Jobs by `squadron.dev/run`. */
export const EKS_RUN_LABEL = "squadron.dev/run";

interface EnvVar {
  name: string;
  value?: string;
  path?: string;
}

/** The runner environment of one launch, as (name, literal | JSONPath) pairs. */
export function runnerEnvironment(options: ContainerTaskOptions, fixed: RunnerStaticEnvironment): EnvVar[] {
  const env: EnvVar[] = [
    { name: "SQUADRON_MODE", value: options.mode },
    { name: "SQUADRON_RUN_ID", path: `${options.runPath}.runId` },
    { name: "SQUADRON_TEAM_DIR", path: `${options.runPath}.teamDir` },
    { name: "SQUADRON_TABLE_NAME", value: fixed.tableName },
    { name: "SQUADRON_BUCKET", value: fixed.bucketName },
  ];
  if (options.mode === "agent") {
    env.push({ name: "SQUADRON_AGENT_NAME", path: "$.agent.name" });
    // Environment values are strings; the attempt is a number in the state.
    env.push({ name: "SQUADRON_ATTEMPT", path: "States.Format('{}', $.state.attempt)" });
  }
  return env;
}

function envEntries(env: EnvVar[], nameKey: string, valueKey: string): Record<string, string>[] {
  return env.map((e) =>
    e.path === undefined
      ? { [nameKey]: e.name, [valueKey]: e.value ?? "" }
      : { [nameKey]: e.name, [`${valueKey}.$`]: e.path },
  );
}

function withLaunchRetry(state: sfn.CustomState, errors: string[]): sfn.CustomState {
  return state.addRetry({
    errors,
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: 4,
    maxDelay: Duration.minutes(1),
    jitterStrategy: sfn.JitterType.FULL,
  });
}

export interface EcsFargateLauncherProps {
  clusterArn: string;
  clusterName: string;
  /** Family of the base task definition; Prepare registers each run's revision in it. */
  taskDefinitionFamily: string;
  subnetIds: string[];
  securityGroupIds: string[];
  /** Task role and execution role the runs' task definitions use (PassRole is limited to these). */
  passRoleArns: string[];
  capacityProvider: "FARGATE" | "FARGATE_SPOT";
  env: RunnerStaticEnvironment;
}

export class EcsFargateLauncher implements RunnerLauncher {
  readonly kind = "ecs" as const;
  constructor(private readonly props: EcsFargateLauncherProps) {}

  containerTask(scope: Construct, id: string, options: ContainerTaskOptions): sfn.CustomState {
    const containerOverride: Record<string, unknown> = {
      Name: RUNNER_CONTAINER_NAME,
      Environment: envEntries(runnerEnvironment(options, this.props.env), "Name", "Value"),
    };
    const overrides: Record<string, unknown> = { ContainerOverrides: [containerOverride] };
    if (options.mode === "agent") {
      overrides["Cpu.$"] = "$.agent.resources.ecsCpu";
      overrides["Memory.$"] = "$.agent.resources.ecsMemory";
    }
    const state = new sfn.CustomState(scope, id, {
      stateJson: {
        Type: "Task",
        Resource: `arn:${Stack.of(scope).partition}:states:::ecs:runTask.sync`,
        Parameters: {
          Cluster: this.props.clusterArn,
          "TaskDefinition.$": `${options.runPath}.taskDefinitionArn`,
          CapacityProviderStrategy: [{ CapacityProvider: this.props.capacityProvider, Weight: 1 }],
          NetworkConfiguration: {
            AwsvpcConfiguration: {
              Subnets: this.props.subnetIds,
              SecurityGroups: this.props.securityGroupIds,
              AssignPublicIp: "DISABLED",
            },
          },
          PropagateTags: "TASK_DEFINITION",
          Overrides: overrides,
        },
        TimeoutSecondsPath: `${options.runPath}.timeoutSeconds`,
        ResultSelector: { "taskArn.$": "$.TaskArn" },
        ResultPath: options.resultPath,
      },
    });
    return withLaunchRetry(state, ECS_LAUNCH_ERRORS);
  }

  grantLaunch(role: iam.IRole): void {
    const stack = Stack.of(role);
    const clusterName = this.props.clusterName;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["ecs:RunTask"],
        resources: [
          stack.formatArn({
            service: "ecs",
            resource: "task-definition",
            resourceName: `${this.props.taskDefinitionFamily}:*`,
          }),
        ],
        conditions: { ArnEquals: { "ecs:cluster": this.props.clusterArn } },
      }),
    );
    // PropagateTags: "TASK_DEFINITION" puts the run's tags (squadron:run-id, team, namespace) on
    // each task, so cost and the console can be read per run. ECS authorises tags applied by
    // RunTask as ecs:TagResource with ecs:CreateAction = RunTask on the new task ("Grant
    // permission to tag resources on creation",
    // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html;
    // AWS's own AmazonEC2ContainerServiceEventsRole grants exactly this for EventBridge's RunTask).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["ecs:TagResource"],
        resources: [stack.formatArn({ service: "ecs", resource: "task", resourceName: `${clusterName}/*` })],
        conditions: { StringEquals: { "ecs:CreateAction": "RunTask" } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["ecs:StopTask", "ecs:DescribeTasks"],
        resources: [stack.formatArn({ service: "ecs", resource: "task", resourceName: `${clusterName}/*` })],
      }),
    );
    // The .sync integration watches the task through this managed rule.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
        resources: [
          stack.formatArn({
            service: "events",
            resource: "rule",
            resourceName: "StepFunctionsGetEventsForECSTaskRule",
          }),
        ],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["iam:PassRole"],
        resources: this.props.passRoleArns,
        conditions: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
      }),
    );
  }
}

export interface EksJobLauncherProps {
  clusterName: string;
  clusterArn: string;
  endpoint: string;
  certificateAuthority: string;
  namespace: string;
  serviceAccountName: string;
  image: string;
  /** PersistentVolumeClaim on the EFS CSI driver; each run mounts `runs/<runId>` of it. */
  claimName: string;
  /** Kubernetes Secret with the CLI keys and tokens, exposed to the runner as env. */
  secretName: string;
  /** How long a runner pod may take to be scheduled and start before its launch fails. */
  startTimeoutSeconds: number;
  env: RunnerStaticEnvironment;
}

/**
 * The batch/v1 Job of one runner launch, with Step Functions paths (`key.$`) where the value
 * comes from the state. Exported so tests render it through the interpreter and validate it
 * against Kubernetes' schema.
 */
export function eksRunnerJob(p: EksJobLauncherProps, options: ContainerTaskOptions): Record<string, unknown> {
  const run = options.runPath;
  const labels = {
    "app.kubernetes.io/name": "squadron-runner",
    [MODE_LABEL]: options.mode,
    // A run id can be longer than a label value's 63 characters; its SHA-1 (40 hex) cannot.
    [`${EKS_RUN_LABEL}.$`]: `States.Hash(${run}.runId, 'SHA-1')`,
    // One launch's Job and pod, for the start watch (core/control/runner-start.ts launchSelector):
    // agent names are DNS-1123 labels (core/manifest/limits.ts), valid label values.
    ...(options.mode === "agent"
      ? {
          [`${AGENT_LABEL}.$`]: "$.agent.name",
          [`${ATTEMPT_LABEL}.$`]: "States.Format('{}', $.state.attempt)",
        }
      : {}),
  };
  const resources =
    options.mode === "agent"
      ? { requests: { "cpu.$": "$.agent.resources.k8sCpu", "memory.$": "$.agent.resources.k8sMemory" } }
      : { requests: { cpu: "500m", memory: "1Gi" } };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { generateName: `squadron-${options.mode}-`, namespace: p.namespace, labels },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 3600,
      "activeDeadlineSeconds.$": `${run}.timeoutSeconds`,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: p.serviceAccountName,
          // The IRSA and Pod Identity webhooks add their own projected tokens, but pods without the
          // service-account token have been seen failing to read them
          // (aws/amazon-eks-pod-identity-webhook#67); the runner's service account is bound to no
          // Role, so the token opens nothing in the cluster.
          automountServiceAccountToken: true,
          // The image is linux/amd64 only (RUNNER_ARCHITECTURE).
          nodeSelector: { "kubernetes.io/arch": RUNNER_ARCHITECTURE, "kubernetes.io/os": "linux" },
          securityContext: {
            runAsNonRoot: true,
            // The run's own uid: its directory (created by Prepare, mode 0700) admits no other run.
            "runAsUser.$": `${run}.posixUid`,
            "runAsGroup.$": `${run}.posixUid`,
            // No fsGroup: the home emptyDir is created 0777 (kubelet, pkg/volume/emptydir
            // empty_dir.go `perm = 0777`) and the run's directory is chowned by Prepare, so it
            // gains nothing; and on a CSIDriver with fsGroupPolicy File kubelet would chgrp and
            // g+rw the whole shared volume (not just the subPath) to each run's gid, opening every
            // run's directory to the next run. (The EFS CSI driver's CSIDriver sets no policy, so
            // the default, ReadWriteOnceWithFSType, skips this ReadWriteMany volume anyway.)
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: RUNNER_CONTAINER_NAME,
              image: p.image,
              env: [
                ...envEntries(runnerEnvironment(options, p.env), "name", "value"),
                // The image's HOME belongs to uid 1000; the run's uid gets its own, writable home
                // (~/.claude, ~/.codex, git config).
                { name: "HOME", value: EKS_RUNNER_HOME },
                // The Secret must name itself (SQUADRON_RUNNER_SECRET): the runner fails at once,
                // saying so, when it does not (runner/config/env.ts).
                { name: "SQUADRON_RUNNER_SECRET_NAME", value: p.secretName },
              ],
              // Optional: a missing Secret would otherwise hold the pod in
              // CreateContainerConfigError until activeDeadlineSeconds (the whole run).
              envFrom: [{ secretRef: { name: p.secretName, optional: true } }],
              // The runner's last words (e.g. that missing Secret) in the pod's status.
              terminationMessagePolicy: "FallbackToLogsOnError",
              resources,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: false,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [
                {
                  name: "team",
                  "mountPath.$": `${run}.teamDir`,
                  "subPath.$": `States.Format('runs/{}', ${run}.runId)`,
                },
                { name: "home", mountPath: EKS_RUNNER_HOME },
              ],
            },
          ],
          volumes: [
            { name: "team", persistentVolumeClaim: { claimName: p.claimName } },
            { name: "home", emptyDir: { sizeLimit: "2Gi" } },
          ],
        },
      },
    },
  };
}

export class EksJobLauncher implements RunnerLauncher {
  readonly kind = "eks" as const;
  constructor(private readonly props: EksJobLauncherProps) {}

  containerTask(scope: Construct, id: string, options: ContainerTaskOptions): ContainerState {
    const p = this.props;
    const run = options.runPath;
    const job = eksRunnerJob(p, options);
    const runJob = withLaunchRetry(
      new sfn.CustomState(scope, id, {
        stateJson: {
          Type: "Task",
          Resource: `arn:${Stack.of(scope).partition}:states:::eks:runJob.sync`,
          Parameters: {
            ClusterName: p.clusterName,
            CertificateAuthority: p.certificateAuthority,
            Endpoint: p.endpoint,
            Namespace: p.namespace,
            Job: job,
          },
          TimeoutSecondsPath: `${run}.timeoutSeconds`,
          ResultSelector: { taskArn: "" },
        },
      }),
      EKS_LAUNCH_ERRORS,
    );
    if (!options.startCheck)
      throw new Error("The EKS launcher needs the start check (ContainerTaskOptions.startCheck)");
    // runJob.sync waits for the Job to finish, and a pod that cannot start never finishes: the
    // watch beside it fails the launch with Kubernetes' reason (core/control/runner-start.ts).
    // A failing branch stops the others ("If any branch fails … the entire Parallel state fails
    // and all its branches are stopped", Step Functions developer guide, Parallel state).
    const launch = new sfn.Parallel(scope, `${id}${EKS_START_WATCH_SUFFIX}`, {
      resultSelector: { "taskArn.$": "$[0].taskArn" },
      resultPath: options.resultPath,
    });
    launch.branch(runJob);
    launch.branch(this.startWatch(scope, id, options));
    return launch;
  }

  /** Polls the start check until the pod has started (Succeed) or the check fails the launch. */
  private startWatch(scope: Construct, id: string, options: ContainerTaskOptions): sfn.IChainable {
    const startCheck = options.startCheck as StartCheckTask;
    const agent = options.mode === "agent";
    const watch = new sfn.Pass(scope, `${id}StartWatch`, {
      parameters: {
        runId: sfn.JsonPath.stringAt(`${options.runPath}.runId`),
        ...(agent
          ? {
              agentName: sfn.JsonPath.stringAt("$.agent.name"),
              attempt: sfn.JsonPath.numberAt("$.state.attempt"),
            }
          : {}),
        since: sfn.JsonPath.stringAt("$$.State.EnteredTime"),
      },
    });
    const wait = new sfn.Wait(scope, `${id}StartWait`, {
      time: sfn.WaitTime.duration(Duration.seconds(EKS_START_CHECK_INTERVAL_SECONDS)),
    });
    const field = (name: string) => ({ [name]: sfn.JsonPath.stringAt(`$.${name}`) });
    const check = startCheck(
      scope,
      `${id}StartCheck`,
      sfn.TaskInput.fromObject({
        action: "checkStart",
        ...field("runId"),
        mode: options.mode,
        ...(agent ? { ...field("agentName"), attempt: sfn.JsonPath.numberAt("$.attempt") } : {}),
        ...field("since"),
        startTimeoutSeconds: this.props.startTimeoutSeconds,
      }),
      "$.check",
    );
    const started = new sfn.Succeed(scope, `${id}PodStarted`);
    const decide = new sfn.Choice(scope, `${id}Started?`)
      .when(sfn.Condition.booleanEquals("$.check.done", true), started)
      .otherwise(wait);
    return watch.next(wait).next(check).next(decide);
  }

  grantLaunch(role: iam.IRole): void {
    // Kubernetes permissions come from the cluster access entry (infra/constructs/compute.ts).
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ["eks:DescribeCluster"], resources: [this.props.clusterArn] }),
    );
  }
}
