/**
 * API: a REST API with IAM (SigV4) authorization on every route except `GET /api/health` and the
 * Slack interactivity endpoint (which the approvals function authenticates by Slack's
 * signature), request validation, JSON access logs, X-Ray, stage throttling and an optional
 * WAF web ACL.
 */
import { ArnFormat, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigateway";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as wafv2 from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";
import type { SquadronConfig } from "../config.ts";
import { HANDLER_ENV } from "../handler-env.ts";
import { HandlerFunction } from "./handler-function.ts";
import { type Orchestration, teamRunStateMachineArn, teamRunStateMachineName } from "./orchestration.ts";
import type { Storage } from "./storage.ts";

export interface ApiProps {
  config: SquadronConfig;
  storage: Storage;
  orchestration: Orchestration;
  approvals: lambda.IFunction;
  /** Where the runner containers log (awslogs driver): the logs route reads it. */
  runnerLogGroup: logs.ILogGroup;
}

export class Api extends Construct {
  readonly restApi: apigw.RestApi;
  readonly handler: HandlerFunction;
  readonly accessLogs: logs.LogGroup;
  readonly webAcl?: wafv2.CfnWebACL;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { config, storage, orchestration } = props;
    const stack = Stack.of(this);

    this.handler = new HandlerFunction(this, "Api", {
      name: "api",
      logRetentionDays: config.logRetentionDays,
      timeout: Duration.seconds(29),
      environment: {
        [HANDLER_ENV.tableName]: storage.table.tableName,
        [HANDLER_ENV.bucket]: storage.bucket.bucketName,
        [HANDLER_ENV.stateMachineArn]: teamRunStateMachineArn(stack),
        [HANDLER_ENV.defaultTimeout]: config.defaultTimeout,
        [HANDLER_ENV.approvers]: config.approvers.join(","),
        ...(config.defaultBudgetUsd !== undefined
          ? { [HANDLER_ENV.defaultBudgetUsd]: String(config.defaultBudgetUsd) }
          : {}),
        ...orchestration.schedulerEnvironment,
        [HANDLER_ENV.runnerLogGroup]: props.runnerLogGroup.logGroupName,
      },
    });
    const fn = this.handler.fn;
    // `GET .../teams/{name}/logs`: FilterLogEvents on the runner group only.
    props.runnerLogGroup.grant(fn, "logs:FilterLogEvents");
    storage.grantItems(fn, { namespaceIndex: true });
    // Templates' configmaps are uploaded through the API; run outputs are read back.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        resources: [storage.bucket.arnForObjects("configmaps/*")],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [storage.bucket.arnForObjects("runs/*")],
      }),
    );
    orchestration.grantSchedules(fn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["states:StartExecution"],
        resources: [teamRunStateMachineArn(stack)],
      }),
    );
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
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.DESTROY,
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
              managedRuleGroupStatement: { vendorName: "AWS", name: "AWSManagedRulesCommonRuleSet" },
            },
            visibilityConfig: {
              cloudWatchMetricsEnabled: true,
              metricName: "common",
              sampledRequestsEnabled: true,
            },
          },
          {
            name: "rate-limit",
            priority: 1,
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
