/**
 * Orchestration: the team-run state machine (state-machines/definition.ts) with its own log
 * group (level ALL, execution data included) and X-Ray tracing, and the control-plane
 * functions around it — prepare, cleanup, dependencies (Task states), budget (table stream),
 * deadline (EventBridge Scheduler target) and events (execution / ECS task state changes).
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as destinations from "aws-cdk-lib/aws-lambda-destinations";
import * as sources from "aws-cdk-lib/aws-lambda-event-sources";
import * as logs from "aws-cdk-lib/aws-logs";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { BUCKET_AREAS } from "../../core/bucket-layout.ts";
import { ENV } from "../../core/control/env-names.ts";
import { RUN_TAGS } from "../../core/control/run-tags.ts";
import { RUN_SK } from "../../core/store/items.ts";
import { TABLE_DEFINITION } from "../../core/store/table-definition.ts";
import { buildTeamRunDefinition } from "../../state-machines/definition.ts";
import type { SquadronConfig } from "../config.ts";
import { RUNS_MOUNT } from "../handler-env.ts";
import type { Compute } from "./compute.ts";
import { HandlerFunction, type HandlerFunctionProps } from "./handler-function.ts";
import type { Network } from "./network.ts";
import { RunsRootEfsMount } from "./read-only-efs-mount.ts";
import type { Storage } from "./storage.ts";
import { grantDescribeTeamSecrets, grantTeamSecrets } from "./team-secrets.ts";

export interface OrchestrationProps {
  config: SquadronConfig;
  network: Network;
  storage: Storage;
  compute: Compute;
  /** The approvals function (approvals construct) serves the ApprovalGate state. */
  approvals: lambda.IFunction;
  /** The outputs function (outputs construct) serves the DeliverOutputs state. */
  outputs: lambda.IFunction;
}

/** Longest a run may take (the per-run deadline is enforced separately and is shorter). */
export const MAX_RUN_DURATION = Duration.days(7);

/** Fixed so IAM grants can name the state machine without a reference to it: the functions
 * it invokes must not depend on it (that would be a CloudFormation dependency cycle). */
export function teamRunStateMachineName(stack: Stack): string {
  return `${stack.stackName}-team-run`;
}

export function teamRunStateMachineArn(stack: Stack): string {
  return stack.formatArn({
    service: "states",
    resource: "stateMachine",
    resourceName: teamRunStateMachineName(stack),
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** StopExecution and DescribeExecution on the team-run state machine's executions: stopping a run. */
export function grantStopExecution(fn: lambda.IFunction, stack: Stack): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ["states:StopExecution", "states:DescribeExecution"],
      resources: [
        stack.formatArn({
          service: "states",
          resource: "execution",
          resourceName: `${teamRunStateMachineName(stack)}:*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
    }),
  );
}

/** SendTaskSuccess/Failure/Heartbeat for waiters of the team-run state machine. */
export function grantTaskResponse(fn: lambda.IFunction, stack: Stack): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
      resources: [teamRunStateMachineArn(stack)],
    }),
  );
}

export class Orchestration extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  readonly functions: Record<
    "prepare" | "cleanup" | "dependencies" | "budget" | "deadline" | "events",
    HandlerFunction
  >;
  /** Dead-letter queue of the asynchronously invoked functions (budget stream, deadline, events). */
  readonly deadLetterQueue: sqs.Queue;
  readonly scheduleGroup: scheduler.ScheduleGroup;

  constructor(scope: Construct, id: string, props: OrchestrationProps) {
    super(scope, id);
    const { config, network, storage, compute } = props;
    const stack = Stack.of(this);
    const retention = config.logRetentionDays;

    this.deadLetterQueue = new sqs.Queue(this, "DeadLetterQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const make = (
      name: "prepare" | "cleanup" | "dependencies" | "budget" | "deadline" | "events",
      extra: Record<string, string> = {},
      placement: Pick<HandlerFunctionProps, "network" | "filesystem"> = {},
    ) =>
      new HandlerFunction(this, `${name[0]?.toUpperCase()}${name.slice(1)}`, {
        name,
        logRetentionDays: retention,
        environment: { [ENV.table]: storage.table.tableName, ...extra },
        timeout: Duration.seconds(name === "prepare" || name === "cleanup" ? 60 : 30),
        ...placement,
      });

    // Per-run access point and task-definition revision (awsWorkspaces): ECS only; on EKS the
    // Job mounts runs/<runId> of the claim and Prepare creates nothing.
    const td = compute.taskDefinition;
    const workspaceEnv: Record<string, string> =
      td && compute.runnerVolumeName
        ? {
            [ENV.fileSystem]: storage.fileSystem.fileSystemId,
            [ENV.taskDefinition]: td.taskDefinitionArn,
            [ENV.volume]: compute.runnerVolumeName,
          }
        : {};
    // EKS: the Jobs share one volume, so Prepare creates each run's directory (its uid, 0700)
    // through a root mount of the runs' root, from the file system's VPC.
    const runDirectories = td ? undefined : this.prepareRunDirectories(network, storage);
    // EKS: Cleanup and events delete the Jobs a run left (core/control/run-jobs.ts).
    const eksApi = compute.eksApi;
    const jobsEnv: Record<string, string> = eksApi
      ? {
          [ENV.eksCluster]: eksApi.clusterName,
          [ENV.eksEndpoint]: eksApi.endpoint,
          [ENV.eksCertificateAuthority]: eksApi.certificateAuthority,
          [ENV.eksNamespace]: eksApi.namespace,
        }
      : {};
    // The functions that read or name team secrets (webhook signing keys, Prepare's ECS secrets).
    const teamSecrets = { [ENV.teamSecretPrefix]: config.teamSecretPrefix };
    this.functions = {
      prepare: make(
        "prepare",
        {
          ...workspaceEnv,
          ...(td ? teamSecrets : {}),
          ...(runDirectories ? { [ENV.runDirectories]: RUNS_MOUNT } : {}),
          [ENV.bucket]: storage.bucket.bucketName,
          [ENV.teamDir]: compute.teamDir,
          [ENV.runnerCpu]: String(config.runnerCpu),
          [ENV.runnerMemory]: String(config.runnerMemoryMiB),
        },
        runDirectories ?? {},
      ),
      cleanup: make("cleanup", { ...workspaceEnv, ...jobsEnv, ...teamSecrets }),
      // EKS: the start check of each runner launch reads the cluster (core/control/runner-start.ts).
      dependencies: make("dependencies", jobsEnv),
      budget: make("budget", teamSecrets),
      deadline: make("deadline", teamSecrets),
      events: make("events", { ...workspaceEnv, ...jobsEnv, ...teamSecrets }),
    };
    const fns = this.functions;
    for (const [id, f] of [
      ["Cleanup", fns.cleanup],
      ["Events", fns.events],
    ] as const) {
      if (f.fn.role) compute.grantJobCleanup(id, f.fn.role);
    }
    if (fns.dependencies.fn.role) compute.grantLaunchWatch(fns.dependencies.fn.role);
    for (const f of Object.values(fns)) storage.grantItems(f.fn);
    // Run-level webhooks (budget warning, finished, deadline, task stopped) are signed with the
    // team's webhook.secretRef.
    for (const f of [fns.budget, fns.cleanup, fns.deadline, fns.events]) {
      grantTeamSecrets(f.fn, config.teamSecretPrefix);
    }
    // Prepare puts the team secrets' full ARNs in the runner's task definition (ECS only).
    if (td) grantDescribeTeamSecrets(fns.prepare.fn, config.teamSecretPrefix);

    // Prepare writes each run's manifest, which the run's runner containers read.
    fns.prepare.fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:PutObject"],
        resources: [storage.bucket.arnForObjects(`${BUCKET_AREAS.runManifests}*`)],
      }),
    );

    // Prepare / Cleanup: the run's access point and task-definition revision (ECS only: on EKS
    // Prepare creates a directory, and nothing is left to delete).
    if (td) {
      const accessPointArns = stack.formatArn({
        service: "elasticfilesystem",
        resource: "access-point",
        resourceName: "*",
      });
      // Prepare creates the run's access point only with the squadron:fileSystem tag (the one
      // Cleanup's delete is conditioned on), and may tag only as part of that create: EFS authorises
      // tags given to a create call as elasticfilesystem:TagResource with
      // elasticfilesystem:CreateAction = CreateAccessPoint ("Tagging resources during creation",
      // https://docs.aws.amazon.com/efs/latest/ug/using-tags-efs.html; Service Authorization
      // Reference: elasticfilesystem:CreateAction).
      const fileSystemTag = { [`aws:RequestTag/${RUN_TAGS.fileSystem}`]: storage.fileSystem.fileSystemId };
      fns.prepare.fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ["elasticfilesystem:CreateAccessPoint"],
          resources: [storage.fileSystem.fileSystemArn],
          conditions: { StringEquals: fileSystemTag },
        }),
      );
      fns.prepare.fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ["elasticfilesystem:TagResource"],
          resources: [accessPointArns],
          conditions: {
            StringEquals: { "elasticfilesystem:CreateAction": "CreateAccessPoint", ...fileSystemTag },
          },
        }),
      );
      fns.prepare.fn.addToRolePolicy(
        new iam.PolicyStatement({
          // CreateAccessPoint answers "creating"; Prepare waits for "available".
          actions: ["elasticfilesystem:DescribeAccessPoints"],
          resources: [storage.fileSystem.fileSystemArn, accessPointArns],
        }),
      );
      for (const f of [fns.cleanup, fns.events]) {
        f.fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ["elasticfilesystem:DeleteAccessPoint"],
            resources: [accessPointArns],
            conditions: {
              StringEquals: { [`aws:ResourceTag/${RUN_TAGS.fileSystem}`]: storage.fileSystem.fileSystemId },
            },
          }),
        );
      }
    }
    if (td) {
      // The run revisions live in the runner's family; what ECS can scope is scoped to it. The
      // Service Authorization Reference lists no resource type for ecs:DescribeTaskDefinition and
      // ecs:DeregisterTaskDefinition, so those two must name "*"; RegisterTaskDefinition,
      // DeleteTaskDefinitions and TagResource take the task-definition ARN.
      const runnerRevisions = stack.formatArn({
        service: "ecs",
        resource: "task-definition",
        resourceName: `${td.family}:*`,
      });
      fns.prepare.fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ["ecs:DescribeTaskDefinition"], resources: ["*"] }),
      );
      fns.prepare.fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ["ecs:RegisterTaskDefinition"], resources: [runnerRevisions] }),
      );
      // RegisterTaskDefinition with tags is authorised as ecs:TagResource with
      // ecs:CreateAction = RegisterTaskDefinition ("Grant permission to tag resources on creation",
      // https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html).
      fns.prepare.fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ["ecs:TagResource"],
          resources: [runnerRevisions],
          conditions: { StringEquals: { "ecs:CreateAction": "RegisterTaskDefinition" } },
        }),
      );
      fns.prepare.fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ["iam:PassRole"],
          resources: [td.taskRole.roleArn, td.obtainExecutionRole().roleArn],
          conditions: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
        }),
      );
      for (const f of [fns.cleanup, fns.events]) {
        f.fn.addToRolePolicy(
          new iam.PolicyStatement({ actions: ["ecs:DeregisterTaskDefinition"], resources: ["*"] }),
        );
        f.fn.addToRolePolicy(
          new iam.PolicyStatement({ actions: ["ecs:DeleteTaskDefinitions"], resources: [runnerRevisions] }),
        );
      }
    }

    // The state machine.
    this.logGroup = new logs.LogGroup(this, "StateMachineLogs", {
      logGroupName: `/aws/vendedlogs/states/${stack.stackName}-team-run`,
      retention: retention as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const definition = buildTeamRunDefinition(this, {
      functions: {
        prepare: fns.prepare.fn,
        dependencies: fns.dependencies.fn,
        approvals: props.approvals,
        outputs: props.outputs,
        cleanup: fns.cleanup.fn,
      },
      launcher: compute.launcher,
      maxConcurrency: config.maxConcurrentAgents,
    });
    this.stateMachine = new sfn.StateMachine(this, "TeamRun", {
      stateMachineName: teamRunStateMachineName(stack),
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: MAX_RUN_DURATION,
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    compute.grantLaunch(this.stateMachine.role);

    // Who may resume waiters and stop executions.
    grantTaskResponse(fns.dependencies.fn, stack);
    for (const f of [fns.budget, fns.deadline, fns.events]) grantStopExecution(f.fn, stack);
    // Budget: the table stream, filtered to run items, failures parked in the DLQ.
    fns.budget.fn.addEventSource(
      new sources.DynamoEventSource(storage.table, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        retryAttempts: 3,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        onFailure: new sources.SqsDlq(this.deadLetterQueue),
        // Only run items carry usage (events, templates, index items never do): Lambda drops the
        // rest before invoking, so budget runs on usage writes, not on every write to the table.
        filters: [
          lambda.FilterCriteria.filter({
            dynamodb: { Keys: { [TABLE_DEFINITION.sortKey.name]: { S: lambda.FilterRule.isEqual(RUN_SK) } } },
          }),
        ],
      }),
    );

    // Deadline: a one-time schedule per run created by the api handler, invoking `deadline`.
    this.scheduleGroup = new scheduler.ScheduleGroup(this, "Deadlines", {
      scheduleGroupName: `${stack.stackName}-deadlines`,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const schedulerRole = new iam.Role(this, "DeadlineSchedulerRole", {
      assumedBy: new iam.ServicePrincipal("scheduler.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
      }),
      description: "EventBridge Scheduler invokes the deadline function",
    });
    fns.deadline.fn.grantInvoke(schedulerRole);
    this.deadLetterQueue.grantSendMessages(schedulerRole);
    for (const f of [fns.deadline, fns.events]) {
      f.fn.configureAsyncInvoke({
        retryAttempts: 2,
        onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      });
    }
    this.schedulerRole = schedulerRole;
    // Prepare arms the run's deadline; Cleanup and the events function disarm it (awsDeadlines).
    const schedulerEnvironment = {
      [ENV.deadlineTarget]: fns.deadline.fn.functionArn,
      [ENV.deadlineRole]: schedulerRole.roleArn,
      [ENV.scheduleGroup]: this.scheduleGroup.scheduleGroupName,
    };
    for (const f of [fns.prepare, fns.cleanup, fns.events]) {
      for (const [name, value] of Object.entries(schedulerEnvironment)) f.fn.addEnvironment(name, value);
    }
    this.grantSchedules(fns.prepare.fn);
    fns.cleanup.fn.addToRolePolicy(this.deleteSchedulesStatement(stack));
    fns.events.fn.addToRolePolicy(this.deleteSchedulesStatement(stack));

    // Events: execution status changes of this state machine, and its runner tasks stopping.
    const eventsTarget = new targets.LambdaFunction(fns.events.fn, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 3,
      maxEventAge: Duration.hours(2),
    });
    new events.Rule(this, "ExecutionStatusChanges", {
      description: "Keeps team status true when an execution ends, is stopped or aborted from outside",
      eventPattern: {
        source: ["aws.states"],
        detailType: ["Step Functions Execution Status Change"],
        detail: { stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [eventsTarget],
    });
    if (compute.cluster) {
      new events.Rule(this, "RunnerTaskStopped", {
        description: "Runner tasks stopping (exit code, stop reason) for the team's agent status",
        eventPattern: {
          source: ["aws.ecs"],
          detailType: ["ECS Task State Change"],
          detail: { clusterArn: [compute.cluster.clusterArn], lastStatus: ["STOPPED"] },
        },
        targets: [eventsTarget],
      });
    }
  }

  readonly schedulerRole: iam.Role;

  /** Prepare's place on EKS: the private subnets, a group sending only HTTPS and NFS, the root mount. */
  private prepareRunDirectories(
    network: Network,
    storage: Storage,
  ): Required<Pick<HandlerFunctionProps, "network" | "filesystem">> {
    const securityGroup = new ec2.SecurityGroup(this, "PrepareSecurityGroup", {
      vpc: network.vpc,
      description: "Squadron prepare function (EKS): no inbound; HTTPS to AWS APIs, NFS to EFS",
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs");
    return {
      network: { vpc: network.vpc, subnets: network.runnerSubnets, securityGroup },
      // NFS (2049) between this group and the file system's: added by the mount.
      filesystem: new RunsRootEfsMount(storage.runsReader, RUNS_MOUNT),
    };
  }

  /** CreateSchedule / DeleteSchedule on this group's schedules, PassRole on the scheduler role. */
  grantSchedules(fn: lambda.IFunction): void {
    const stack = Stack.of(this);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["scheduler:CreateSchedule", "scheduler:DeleteSchedule"],
        resources: [this.scheduleArn(stack)],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["iam:PassRole"], resources: [this.schedulerRole.roleArn] }),
    );
  }

  private scheduleArn(stack: Stack): string {
    return stack.formatArn({
      service: "scheduler",
      resource: "schedule",
      resourceName: `${this.scheduleGroup.scheduleGroupName}/*`,
    });
  }

  private deleteSchedulesStatement(stack: Stack): iam.PolicyStatement {
    return new iam.PolicyStatement({
      actions: ["scheduler:DeleteSchedule"],
      resources: [this.scheduleArn(stack)],
    });
  }
}
