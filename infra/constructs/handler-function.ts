/**
 * A Squadron Lambda: NodejsFunction from lambdas/<name>/handler.ts bundled by the local esbuild
 * (no Docker), Node 22, ESM, X-Ray tracing, its own role (NodejsFunction creates one per
 * function) and its own log group with the configured retention.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { METRICS_NAMESPACE } from "../../core/control/metric-names.ts";
import {
  BUNDLE_SETTINGS,
  type HandlerName,
  handlerEntry,
  LAMBDA_NODE_OPTIONS,
  REPO_ROOT,
} from "../bundling.ts";

export interface HandlerFunctionProps {
  name: HandlerName;
  environment?: Record<string, string>;
  timeout?: Duration;
  memorySize?: number;
  logRetentionDays: number;
  reservedConcurrentExecutions?: number;
  deadLetterQueueEnabled?: boolean;
  /** Runs the function in these subnets with this security group (for an EFS mount). */
  network?: { vpc: ec2.IVpc; subnets: ec2.SubnetSelection; securityGroup: ec2.ISecurityGroup };
  filesystem?: lambda.FileSystem;
}

export class HandlerFunction extends Construct {
  /** The handler in lambdas/<name>/handler.ts. */
  readonly name: HandlerName;
  readonly fn: nodejs.NodejsFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    this.name = props.name;
    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Its own role, allowed to write only its own log group (no AWSLambdaBasicExecutionRole).
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `Squadron ${props.name} function`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    if (props.network) {
      // What AWSLambdaVPCAccessExecutionRole grants, inline (CDK adds that managed policy only to
      // roles it creates). These EC2 actions support no resource-level permissions.
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
          ],
          resources: ["*"],
        }),
      );
    }
    this.fn = new nodejs.NodejsFunction(this, "Function", {
      role: this.role,
      entry: handlerEntry(props.name),
      handler: "handler",
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      deadLetterQueueEnabled: props.deadLetterQueueEnabled,
      ...(props.network
        ? {
            vpc: props.network.vpc,
            vpcSubnets: props.network.subnets,
            securityGroups: [props.network.securityGroup],
          }
        : {}),
      filesystem: props.filesystem,
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      environment: {
        NODE_OPTIONS: LAMBDA_NODE_OPTIONS,
        // The handler names its service itself (lambdas/shared.ts perContainer, the `service`
        // dimension of its metrics); the variable says the same for anything reading it.
        POWERTOOLS_SERVICE_NAME: props.name,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: BUNDLE_SETTINGS.target,
        minify: BUNDLE_SETTINGS.minify,
        // "linked": a separate .map file and the comment that points to it.
        sourceMap: BUNDLE_SETTINGS.sourcemap === "linked",
        sourceMapMode: nodejs.SourceMapMode.DEFAULT,
        sourcesContent: BUNDLE_SETTINGS.sourcesContent,
        mainFields: BUNDLE_SETTINGS.mainFields,
        externalModules: BUNDLE_SETTINGS.externalModules,
        banner: BUNDLE_SETTINGS.banner,
        forceDockerBundling: false,
      },
    });
  }
}
