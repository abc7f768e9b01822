/**
 * Approvals: the approvals function (ApprovalGate waiter + Slack interactivity route) and,
 * when Slack is on, its signing secret and bot token in Secrets Manager.
 */
import { Duration, Stack } from "aws-cdk-lib";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import type { SquadronConfig } from "../config.ts";
import { HANDLER_ENV } from "../handler-env.ts";
import { HandlerFunction } from "./handler-function.ts";
import { grantTaskResponse } from "./orchestration.ts";
import type { Storage } from "./storage.ts";

export interface ApprovalsProps {
  config: SquadronConfig;
  storage: Storage;
}

export class Approvals extends Construct {
  readonly handler: HandlerFunction;
  readonly signingSecret?: secretsmanager.Secret;
  readonly botToken?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: ApprovalsProps) {
    super(scope, id);
    const { config, storage } = props;
    const stack = Stack.of(this);
    const environment: Record<string, string> = {
      [HANDLER_ENV.tableName]: storage.table.tableName,
      [HANDLER_ENV.approvers]: config.approvers.join(","),
    };
    if (config.slack.enabled) {
      this.signingSecret = new secretsmanager.Secret(this, "SlackSigningSecret", {
        secretName: `${stack.stackName}/slack-signing-secret`,
        description: "Slack app signing secret (Basic Information > App Credentials)",
      });
      this.botToken = new secretsmanager.Secret(this, "SlackBotToken", {
        secretName: `${stack.stackName}/slack-bot-token`,
        description: "Slack bot token xoxb-... (OAuth & Permissions)",
      });
      environment[HANDLER_ENV.slackSigningSecretArn] = this.signingSecret.secretArn;
      environment[HANDLER_ENV.slackBotTokenArn] = this.botToken.secretArn;
      if (config.slack.channel) environment[HANDLER_ENV.slackChannel] = config.slack.channel;
    }
    this.handler = new HandlerFunction(this, "Approvals", {
      name: "approvals",
      logRetentionDays: config.logRetentionDays,
      timeout: Duration.seconds(15),
      environment,
    });
    storage.grantItems(this.handler.fn);
    this.signingSecret?.grantRead(this.handler.fn);
    this.botToken?.grantRead(this.handler.fn);
    grantTaskResponse(this.handler.fn, stack);
  }
}
