/**
 * The Squadron stack: one construct per concern, wired together. Environment-agnostic so it
 * synthesises offline (no AZ or VPC lookups).
 */
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import type { SquadronConfig } from "./config.ts";
import { Api } from "./constructs/api.ts";
import { Approvals } from "./constructs/approvals.ts";
import { CleanupFailureAlarm } from "./constructs/cleanup-alarm.ts";
import { Compute } from "./constructs/compute.ts";
import type { HandlerFunction } from "./constructs/handler-function.ts";
import { Network } from "./constructs/network.ts";
import { Observability } from "./constructs/observability.ts";
import { Orchestration } from "./constructs/orchestration.ts";
import { OutputsDelivery } from "./constructs/outputs.ts";
import { Storage } from "./constructs/storage.ts";
import { TeamSchedules } from "./constructs/team-schedules.ts";
import { applyGuardAcknowledgements } from "./guard-acknowledgements.ts";
import { applyNagSuppressions } from "./nag-suppressions.ts";

export interface SquadronStackProps extends StackProps {
  config: SquadronConfig;
}

export class SquadronStack extends Stack {
  readonly network: Network;
  readonly storage: Storage;
  readonly compute: Compute;
  readonly approvals: Approvals;
  readonly outputs: OutputsDelivery;
  readonly orchestration: Orchestration;
  readonly api: Api;
  readonly teamSchedules: TeamSchedules;
  readonly observability: Observability;

  constructor(scope: Construct, id: string, props: SquadronStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.network = new Network(this, "Network", { config });
    this.storage = new Storage(this, "Storage", {
      config,
      vpc: this.network.vpc,
      subnets: this.network.runnerSubnets,
    });
    this.compute = new Compute(this, "Compute", { config, network: this.network, storage: this.storage });
    this.approvals = new Approvals(this, "Approvals", { config, storage: this.storage });
    this.outputs = new OutputsDelivery(this, "Outputs", {
      config,
      network: this.network,
      storage: this.storage,
    });
    this.orchestration = new Orchestration(this, "Orchestration", {
      config,
      network: this.network,
      storage: this.storage,
      compute: this.compute,
      approvals: this.approvals.handler.fn,
      outputs: this.outputs.handler.fn,
    });
    this.api = new Api(this, "Api", {
      config,
      network: this.network,
      storage: this.storage,
      approvals: this.approvals.handler.fn,
      runnerLogGroup: this.compute.logGroup,
      ...(this.approvals.botToken ? { slackBotToken: this.approvals.botToken } : {}),
    });
    this.teamSchedules = new TeamSchedules(this, "TeamSchedules", {
      api: this.api.handler.fn,
      table: this.storage.table,
    });
    const functions = Object.fromEntries(this.handlerFunctions().map((f) => [f.name, f.fn]));
    this.observability = new Observability(this, "Observability", {
      config,
      stateMachine: this.orchestration.stateMachine,
      functions,
      restApi: this.api.restApi,
      deadLetterQueue: this.orchestration.deadLetterQueue,
      cluster: this.compute.cluster,
      runnerFamily: this.compute.taskDefinition?.family,
      ...(config.eks
        ? { eks: { clusterName: config.eks.clusterName, namespace: config.eks.namespace } }
        : {}),
    });

    new CleanupFailureAlarm(this, "CleanupFailures", { topic: this.observability.alarmTopic });

    new CfnOutput(this, "ApiUrl", { value: this.api.restApi.url });
    new CfnOutput(this, "SlackInteractivityUrl", { value: `${this.api.restApi.url}webhooks/slack` });
    new CfnOutput(this, "StateMachineArn", { value: this.orchestration.stateMachine.stateMachineArn });
    new CfnOutput(this, "TableName", { value: this.storage.table.tableName });
    new CfnOutput(this, "BucketName", { value: this.storage.bucket.bucketName });
    // For a bucket policy on another bucket that receives outputs (docs/deploy.md).
    new CfnOutput(this, "OutputsFunctionRoleArn", { value: this.outputs.handler.role.roleArn });
    new CfnOutput(this, "FileSystemId", { value: this.storage.fileSystem.fileSystemId });
    new CfnOutput(this, "RunnerSecurityGroupId", { value: this.network.runnerSecurityGroup.securityGroupId });
    new CfnOutput(this, "AlarmTopicArn", { value: this.observability.alarmTopic.topicArn });

    applyNagSuppressions(this, config);
    applyGuardAcknowledgements(this);
  }

  /** Every Lambda function of lambdas/, one per handler. */
  handlerFunctions(): HandlerFunction[] {
    return [
      this.api.handler,
      this.approvals.handler,
      this.outputs.handler,
      ...Object.values(this.orchestration.functions),
    ];
  }
}
