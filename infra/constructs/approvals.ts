/**
 * Approvals: the approvals function (ApprovalGate waiter + Slack interactivity route), the HMAC
 * key it signs approval-gate webhooks with and, when Slack is on, Slack's signing secret and bot
 * token — all in Secrets Manager, passed to the function as ARNs.
 */
import { Duration, Stack } from "aws-cdk-lib";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { ENV } from "../../core/control/env-names.ts";
import type { SquadronConfig } from "../config.ts";
import { HandlerFunction } from "./handler-function.ts";
import { grantTaskResponse } from "./orchestration.ts";
import type { Storage } from "./storage.ts";
import { grantTeamSecrets } from "./team-secrets.ts";

export interface ApprovalsProps {
  config: SquadronConfig;
  storage: Storage;
}

export class Approvals extends Construct {
  readonly handler: HandlerFunction;
  /** HMAC-SHA256 key of signed gate webhooks (`X-Squadron-Signature`); receivers verify with it. */
  readonly webhookSecret: secretsmanager.Secret;
  readonly signingSecret?: secretsmanager.Secret;
  readonly botToken?: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: ApprovalsProps) {
    super(scope, id);
    const { config, storage } = props;
    const stack = Stack.of(this);
    this.webhookSecret = new secretsmanager.Secret(this, "WebhookSigningSecret", {
      secretName: `${stack.stackName}/webhook-signing-secret`,
      description: "HMAC key Squadron signs approval-gate webhooks with (generated; share it with receivers)",
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    const environment: Record<string, string> = {
      [ENV.table]: storage.table.tableName,
      [ENV.webhookSecret]: this.webhookSecret.secretArn,
      [ENV.teamSecretPrefix]: config.teamSecretPrefix,
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
      environment[ENV.slackSigningSecret] = this.signingSecret.secretArn;
      environment[ENV.slackTokenSecret] = this.botToken.secretArn;
      environment[ENV.slackApprovers] = config.approvers.join(",");
      if (config.slack.channel) environment[ENV.slackChannel] = config.slack.channel;
    }
    this.handler = new HandlerFunction(this, "Approvals", {
      name: "approvals",
      logRetentionDays: config.logRetentionDays,
      timeout: Duration.seconds(15),
      environment,
    });
    storage.grantItems(this.handler.fn);
    this.webhookSecret.grantRead(this.handler.fn);
    this.signingSecret?.grantRead(this.handler.fn);
    this.botToken?.grantRead(this.handler.fn);
    // Gate webhooks to the team's own webhook are signed with its webhook.secretRef.
    grantTeamSecrets(this.handler.fn, config.teamSecretPrefix);
    grantTaskResponse(this.handler.fn, stack);
  }
}
