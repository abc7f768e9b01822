/**
 * API: a REST API with IAM (SigV4) authorization on every route except `GET /api/health`, the
 * Slack interactivity endpoint (which the approvals function authenticates by Slack's
 * signature) and the AgentTeamTrigger webhooks `POST /hooks/{namespace}/{path+}` (which the api
 * function authenticates by the sender's X-Hub-Signature-256), request validation, JSON access logs, X-Ray, stage throttling and an optional
 * WAF web ACL. The api function runs in the VPC's private subnets with the runs' root of the EFS
 * file system mounted read-only, for `GET .../tasks` and `GET .../messages`.
 */
import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigateway";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as wafv2 from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";
import { ENV } from "../../core/control/env-names.ts";
import type { SquadronConfig } from "../config.ts";
import { RUNS_MOUNT } from "../handler-env.ts";
import { HandlerFunction } from "./handler-function.ts";
import type { Network } from "./network.ts";
import { grantStopExecution, teamRunStateMachineArn } from "./orchestration.ts";
import { ReadOnlyEfsMount } from "./read-only-efs-mount.ts";
import type { Storage } from "./storage.ts";
import { grantTriggerSecrets } from "./team-secrets.ts";

export interface ApiProps {
  config: SquadronConfig;
  network: Network;
  storage: Storage;
  approvals: lambda.IFunction;
  /** Where the runner containers log (awslogs driver): the logs route reads it. */
  runnerLogGroup: logs.ILogGroup;
  /** With Slack on: the bot token, to update a gate's message when it is decided through the API. */
  slackBotToken?: secretsmanager.ISecret;
}

/**
 * Rules of AWS's core rule set (AWSManagedRulesCommonRuleSet) that inspect the request body, with
 * the labels they add when they match. On /api/* they would refuse ordinary use:
 * SizeRestrictions_BODY blocks every body over 8 KB (a manifest with a few prompts), and the XSS,
 * LFI/RFI and SSRF body rules match prompts that contain code, shell paths or URLs. So the managed
 * group only counts them (ruleActionOverrides) and a rule of ours blocks their labels on every
 * other path: AWS's documented way to narrow a managed rule
 * (https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html#aws-managed-rule-groups-baseline-crs,
 * https://docs.aws.amazon.com/waf/latest/developerguide/waf-managed-rule-group-override-options.html,
 * https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-label-match-examples.html).
 * /api/* is IAM-authorised, so every such request is signed by a principal of the account.
 */
export const CRS_BODY_RULES = [
  { rule: "SizeRestrictions_BODY", label: "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body" },
  { rule: "CrossSiteScripting_BODY", label: "awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body" },
  { rule: "GenericLFI_BODY", label: "awswaf:managed:aws:core-rule-set:GenericLFI_Body" },
  { rule: "GenericRFI_BODY", label: "awswaf:managed:aws:core-rule-set:GenericRFI_Body" },
  { rule: "EC2MetaDataSSRF_BODY", label: "awswaf:managed:aws:core-rule-set:EC2MetaDataSSRF_Body" },
] as const;

/**
 * The API's own routes, with or without the stage in front (`/v1/api/...` or `/api/...`): the
 * URI path AWS WAF sees for a REST API stage.
 */
const API_PATH_MATCH = {
  regexMatchStatement: {
    // /hooks/ too: trigger webhooks carry senders' JSON (a GitHub push is often over 8 KB and holds
    // code), verified by HMAC before any use and bounded by the api function (core/triggers).
    regexString: "^(/[^/]+)?/(api|hooks)/",
    fieldToMatch: { uriPath: {} },
    textTransformations: [{ priority: 0, type: "NONE" }],
  },
};

export class Api extends Construct {
  readonly restApi: apigw.RestApi;
  readonly handler: HandlerFunction;
  readonly accessLogs: logs.LogGroup;
  readonly webAcl?: wafv2.CfnWebACL;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { config, network, storage } = props;
    const stack = Stack.of(this);

    this.securityGroup = new ec2.SecurityGroup(this, "FunctionSecurityGroup", {
      vpc: network.vpc,
      description: "Squadron api function: no inbound; HTTPS to AWS APIs and Slack, NFS to EFS",
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and Slack");

    this.handler = new HandlerFunction(this, "Api", {
      name: "api",
      logRetentionDays: config.logRetentionDays,
      timeout: Duration.seconds(29),
      network: { vpc: network.vpc, subnets: network.runnerSubnets, securityGroup: this.securityGroup },
      // NFS (2049) between this function's group and the file system's: added by the mount.
      // Reads every run as root, and only reads (storage.runsReader).
      filesystem: new ReadOnlyEfsMount(storage.runsReader, RUNS_MOUNT),
      environment: {
        [ENV.table]: storage.table.tableName,
        [ENV.stateMachine]: teamRunStateMachineArn(stack),
        [ENV.runsMount]: RUNS_MOUNT,
        [ENV.runnerLogGroup]: props.runnerLogGroup.logGroupName,
        [ENV.teamSecretPrefix]: config.teamSecretPrefix,
        // For manifests that set none (core/manifest ManifestOptions.defaults).
        [ENV.defaultTimeout]: config.defaultTimeout,
        ...(config.defaultBudgetUsd !== undefined
          ? { [ENV.defaultBudget]: String(config.defaultBudgetUsd) }
          : {}),
        ...(props.slackBotToken ? { [ENV.slackTokenSecret]: props.slackBotToken.secretArn } : {}),
      },
    });
    const fn = this.handler.fn;
    // `GET .../teams/{name}/logs`: FilterLogEvents on the runner group only.
    props.runnerLogGroup.grant(fn, "logs:FilterLogEvents");
    storage.grantItems(fn, { namespaceIndex: true });
    props.slackBotToken?.grantRead(fn);
    // Trigger webhooks: the HMAC keys, under `<prefix>/<namespace>/triggers/`, and no other team
    // secret: this function answers the internet.
    grantTriggerSecrets(fn, config.teamSecretPrefix);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["states:StartExecution"],
        resources: [teamRunStateMachineArn(stack)],
      }),
    );
    grantStopExecution(fn, stack);
    // API approvals resolve the gate's token like Slack clicks do.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["states:SendTaskSuccess", "states:SendTaskFailure"],
        resources: [teamRunStateMachineArn(stack)],
      }),
    );

    this.accessLogs = new logs.LogGroup(this, "AccessLogs", {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.restApi = new apigw.RestApi(this, "RestApi", {
      restApiName: `${stack.stackName}-api`,
      description: "Squadron REST API",
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // API Gateway logs through ONE role per account and region (the AWS::ApiGateway::Account
      // setting), shared by every REST API there. Execution and access logging need it set, so
      // the stack sets it, but never removes it: with DESTROY, `cdk destroy` would delete the role
      // other APIs log through and break their logging. Kept on RETAIN; docs/deploy.md explains.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: "v1",
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: config.apiThrottle.rateLimit,
        throttlingBurstLimit: config.apiThrottle.burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
      },
      defaultMethodOptions: { authorizationType: apigw.AuthorizationType.IAM },
    });
    const validator = this.restApi.addRequestValidator("Validator", {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const integration = new apigw.LambdaIntegration(fn);

    const api = this.restApi.root.addResource("api");
    // The handler serves health at /api/health (as locally); this explicit resource wins over
    // {proxy+} and is the one route besides Slack's that needs no signature.
    api
      .addResource("health")
      .addMethod("GET", integration, { authorizationType: apigw.AuthorizationType.NONE });
    // The seed "agent orchestrator" API's health check, answered `200 OK` as plain text by the same handler.
    this.restApi.root
      .addResource("health")
      .addMethod("GET", integration, { authorizationType: apigw.AuthorizationType.NONE });
    api.addMethod("ANY", integration, { requestValidator: validator });
    api.addResource("{proxy+}").addMethod("ANY", integration, {
      requestValidator: validator,
      requestParameters: { "method.request.path.proxy": true },
    });
    // Slack cannot sign with SigV4; the approvals function verifies X-Slack-Signature itself.
    this.restApi.root
      .addResource("webhooks")
      .addResource("slack")
      .addMethod("POST", new apigw.LambdaIntegration(props.approvals), {
        authorizationType: apigw.AuthorizationType.NONE,
        requestValidator: validator,
        requestParameters: {
          "method.request.header.X-Slack-Signature": true,
          "method.request.header.X-Slack-Request-Timestamp": true,
        },
      });

    // AgentTeamTrigger webhooks: senders (GitHub and the like) sign with HMAC, not SigV4; the api
    // function verifies X-Hub-Signature-256 over the raw body before anything is read or created.
    // The header is not required here, so that an unsigned request reaches the function and is
    // recorded on the trigger (401) like every other fire.
    this.restApi.root
      .addResource("hooks")
      .addResource("{namespace}")
      .addResource("{path+}")
      .addMethod("POST", integration, {
        authorizationType: apigw.AuthorizationType.NONE,
        requestValidator: validator,
        requestParameters: {
          "method.request.path.namespace": true,
          "method.request.path.path": true,
        },
      });

    if (config.waf) {
      this.webAcl = new wafv2.CfnWebACL(this, "WebAcl", {
        scope: "REGIONAL",
        defaultAction: { allow: {} },
        visibilityConfig: {
          cloudWatchMetricsEnabled: true,
          metricName: "squadron-api",
          sampledRequestsEnabled: true,
        },
        rules: [
          {
            name: "common",
            priority: 0,
            overrideAction: { none: {} },
            statement: {
              managedRuleGroupStatement: {
                vendorName: "AWS",
                name: "AWSManagedRulesCommonRuleSet",
                // These rules only count (and label) a match; the next rule blocks it outside /api/.
                ruleActionOverrides: CRS_BODY_RULES.map(({ rule }) => ({
                  name: rule,
                  actionToUse: { count: {} },
                })),
              },
            },
            visibilityConfig: {
              cloudWatchMetricsEnabled: true,
              metricName: "common",
              sampledRequestsEnabled: true,
            },
          },
          {
            // The body rules still block everywhere but the API's own routes, whose bodies are
            // manifests and prompts: larger than 8 KB, and code that looks like XSS or a path.
            name: "common-body-rules-outside-api",
            priority: 1,
            action: { block: {} },
            statement: {
              andStatement: {
                statements: [
                  {
                    orStatement: {
                      statements: CRS_BODY_RULES.map(({ label }) => ({
                        labelMatchStatement: { scope: "LABEL", key: label },
                      })),
                    },
                  },
                  { notStatement: { statement: API_PATH_MATCH } },
                ],
              },
            },
            visibilityConfig: {
              cloudWatchMetricsEnabled: true,
              metricName: "common-body-rules-outside-api",
              sampledRequestsEnabled: true,
            },
          },
          {
            name: "rate-limit",
            priority: 2,
            action: { block: {} },
            statement: { rateBasedStatement: { limit: 2000, aggregateKeyType: "IP" } },
            visibilityConfig: {
              cloudWatchMetricsEnabled: true,
              metricName: "rate-limit",
              sampledRequestsEnabled: true,
            },
          },
        ],
      });
      new wafv2.CfnWebACLAssociation(this, "WebAclAssociation", {
        resourceArn: this.restApi.deploymentStage.stageArn,
        webAclArn: this.webAcl.attrArn,
      });
    }
  }
}
