/**
 * cdk-nag AwsSolutions acknowledgements. Each is on one specific construct, names the exact
 * finding (IAM5 findings carry the resource), and says why it is acceptable. Anything not
 * listed here fails synth and test/infra/nag.test.ts.
 */
import { type CfnElement, Stack, Token, Validations } from "aws-cdk-lib";
import * as eks from "aws-cdk-lib/aws-eks";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { IConstruct } from "constructs";
import { BUCKET_AREAS, READABLE_INPUT_AREAS } from "../core/bucket-layout.ts";
import type { SquadronConfig } from "./config.ts";
import type { HandlerFunction } from "./constructs/handler-function.ts";
import { INTERFACE_ENDPOINTS } from "./constructs/network.ts";
import { teamRunStateMachineName } from "./constructs/orchestration.ts";
import type { SquadronStack } from "./stack.ts";

function ack(construct: IConstruct | undefined, id: string, reason: string): void {
  // A construct moved or renamed must fail synth by name, not with a TypeError deep in CDK.
  if (!construct)
    throw new Error(`cdk-nag acknowledgement of ${id} names a construct that no longer exists.`);
  Validations.of(construct).acknowledge({ id, reason });
}

/** Renders a resource (string or token) as cdk-nag prints it in IAM5 finding ids. */
export function nagResource(stack: Stack, value: string): string {
  const render = (v: unknown): string => {
    if (typeof v === "string") return v;
    const o = v as Record<string, unknown>;
    if ("Ref" in o) return `<${String(o.Ref)}>`;
    if ("Fn::GetAtt" in o) {
      const [id, attr] = o["Fn::GetAtt"] as [string, string];
      return `<${id}.${attr}>`;
    }
    if ("Fn::Join" in o) {
      const [sep, parts] = o["Fn::Join"] as [string, unknown[]];
      return parts.map(render).join(sep);
    }
    throw new Error(`nagResource: cannot render ${JSON.stringify(v)}`);
  };
  return render(Token.isUnresolved(value) ? stack.resolve(value) : value);
}

function iam5(stack: Stack, construct: IConstruct, resource: string, reason: string): void {
  ack(construct, `AwsSolutions-IAM5[Resource::${nagResource(stack, resource)}]`, reason);
}

export function applyNagSuppressions(stack: SquadronStack, config: SquadronConfig): void {
  const { network, storage, compute, orchestration, api, approvals, outputs } = stack;
  const partitionArn = (service: string, resource: string) =>
    `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${resource}`;

  // Network
  if (config.vpc === "new") {
    for (const name of Object.keys(INTERFACE_ENDPOINTS)) {
      ack(
        network.vpc.node.findChild(name),
        "AwsSolutions-EC23",
        "Endpoint security group admits HTTPS from the VPC CIDR only; the rule cannot read the CIDR token.",
      );
    }
  }

  // Compute
  for (const secret of Object.values(compute.secrets)) {
    ack(
      secret,
      "AwsSolutions-SMG4",
      "Third-party API keys and tokens cannot be rotated by a Lambda; rotate at the provider.",
    );
  }
  if (compute.taskDefinition) {
    ack(
      compute.taskDefinition,
      "AwsSolutions-ECS2",
      "Only the table and bucket names are plain environment; every secret is an ECS secret.",
    );
  }
  if (compute.taskDefinition && !config.runnerImageUri) {
    iam5(
      stack,
      compute.taskDefinition.obtainExecutionRole(),
      "*",
      "ecr:GetAuthorizationToken (pulling the runner image asset) has no resource-level permissions.",
    );
  }
  const readPrefixes =
    "Reads only: run manifests, inputs and skills, named per run or team inside these prefixes of Squadron's bucket.";
  for (const area of [BUCKET_AREAS.runManifests, ...READABLE_INPUT_AREAS]) {
    iam5(stack, compute.taskRole, storage.bucket.arnForObjects(`${area}*`), readPrefixes);
  }
  for (const bucket of config.inputBuckets) {
    iam5(
      stack,
      compute.taskRole,
      `arn:<AWS::Partition>:s3:::${bucket}/*`,
      "Reads of a bucket the operator listed in inputBuckets, for inputs that manifests name in it.",
    );
  }
  // The prepare function writes each run's manifest; the outputs function delivers a run's outputs.
  iam5(
    stack,
    orchestration.functions.prepare.role,
    storage.bucket.arnForObjects(`${BUCKET_AREAS.runManifests}*`),
    "One manifest per run, keyed by the run id, under this prefix.",
  );
  const deliveryAreas =
    "Writes only: a run's outputs under runs/<namespace>/<team>/<runId>/, or where its manifest says under outputs/<namespace>/ (checked at apply).";
  for (const area of [BUCKET_AREAS.runs, BUCKET_AREAS.outputs]) {
    iam5(stack, outputs.handler.role, storage.bucket.arnForObjects(`${area}*`), deliveryAreas);
  }
  for (const bucket of config.outputBuckets) {
    iam5(
      stack,
      outputs.handler.role,
      `arn:<AWS::Partition>:s3:::${bucket}/*`,
      "Writes to a bucket the operator listed in outputBuckets, for outputs that manifests deliver there.",
    );
  }

  // The AwsCustomResource (EKS DescribeCluster) runs on CDK's singleton provider function.
  const provider = stack.node.tryFindChild("AWS679f53fac002430cb0da5b7982bd2287");
  const providerRole = provider?.node.tryFindChild("ServiceRole");
  if (providerRole) {
    ack(
      providerRole,
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
      "CDK's AwsCustomResource provider (one DescribeCluster at deploy time) uses the basic logging policy.",
    );
  }
  if (compute.eksCluster) {
    acknowledgeKubectlProvider(compute.eksCluster, config.eks?.kubectlSecurityGroupId !== undefined);
  }
  ack(
    approvals.webhookSecret,
    "AwsSolutions-SMG4",
    "The gate webhooks' HMAC key is shared with their receivers; rotating it means updating them, by hand.",
  );
  for (const secret of [approvals.signingSecret, approvals.botToken]) {
    if (secret)
      ack(
        secret,
        "AwsSolutions-SMG4",
        "Slack issues these; they are rotated in the Slack app, not by a Lambda.",
      );
  }

  // Functions: X-Ray segments cannot be scoped; L1 (latest runtime) is a deliberate pin.
  const functions: HandlerFunction[] = [
    api.handler,
    approvals.handler,
    outputs.handler,
    ...Object.values(orchestration.functions),
  ];
  const o = orchestration.functions;
  // What each function holds on "*": only actions the Service Authorization Reference lists with
  // no resource type. Everything ECS can scope is scoped to the runner family (orchestration.ts).
  const unscoped = (f: HandlerFunction): string => {
    const actions = ["xray:PutTraceSegments/PutTelemetryRecords"];
    if (f === api.handler || f === outputs.handler) {
      actions.push(
        "the VPC network-interface actions Lambda needs (ec2:*NetworkInterface*, ec2:DescribeSubnets, ec2:Assign/UnassignPrivateIpAddresses)",
      );
    }
    if (compute.taskDefinition && f === o.prepare) {
      actions.push("ecs:DescribeTaskDefinition (reads the base revision Prepare copies)");
    }
    if (compute.taskDefinition && (f === o.cleanup || f === o.events)) {
      actions.push(
        "ecs:DeregisterTaskDefinition (the run's revision; its permanent deletion, ecs:DeleteTaskDefinitions, is scoped to the runner family)",
      );
    }
    return `${actions.join("; ")}: these support no resource-level permissions.`;
  };
  for (const f of functions) {
    ack(
      f.fn,
      "AwsSolutions-L1",
      "Node.js 22 is the runtime Squadron is built and tested for (the pin in infra/constructs/handler-function.ts; docs/architecture.md).",
    );
    iam5(stack, f.role, "*", unscoped(f));
  }
  const accessPoints = partitionArn("elasticfilesystem", "access-point/*");
  ack(
    o.prepare.role,
    `AwsSolutions-IAM5[Resource::${accessPoints}]`,
    "Access points are created per run (ids unknown in advance): Prepare may describe them, and tag one only while creating it (elasticfilesystem:CreateAction = CreateAccessPoint) with this file system's squadron:fileSystem tag.",
  );
  for (const f of [o.cleanup, o.events]) {
    ack(
      f.role,
      `AwsSolutions-IAM5[Resource::${accessPoints}]`,
      "Access points are created per run (ids unknown in advance); deletion is limited to those tagged squadron:fileSystem = this file system.",
    );
  }
  if (compute.taskDefinition) {
    const revisions = partitionArn("ecs", `task-definition/${compute.taskDefinition.family}:*`);
    ack(
      o.prepare.role,
      `AwsSolutions-IAM5[Resource::${revisions}]`,
      "Prepare registers one revision of the runner family per run (revision numbers unknown in advance), tagging it only on registration (ecs:CreateAction = RegisterTaskDefinition).",
    );
    for (const f of [o.cleanup, o.events]) {
      ack(
        f.role,
        `AwsSolutions-IAM5[Resource::${revisions}]`,
        "Deleting a run's deregistered revision: only revisions of this stack's runner family.",
      );
    }
  }
  const schedules = partitionArn("scheduler", `schedule/${stack.stackName}-deadlines/*`);
  for (const f of [o.prepare, o.cleanup, o.events]) {
    ack(
      f.role,
      `AwsSolutions-IAM5[Resource::${schedules}]`,
      "Deadline schedules are per run, within Squadron's own group.",
    );
  }
  ack(
    api.handler.role,
    `AwsSolutions-IAM5[Resource::${partitionArn("scheduler", `schedule/${stack.stackName}-team-schedules/*`)}]`,
    "One Scheduler schedule per AgentTeamSchedule, named by users, within Squadron's own group.",
  );
  const executions = partitionArn("states", `execution:${teamRunStateMachineName(stack)}:*`);
  for (const f of [api.handler, o.budget, o.deadline, o.events]) {
    ack(
      f.role,
      `AwsSolutions-IAM5[Resource::${executions}]`,
      "Executions of Squadron's own state machine, named by run id.",
    );
  }

  // Team secrets (squadron/<namespace>/<name>): named per team in manifests, created by users, so
  // only the prefix can be granted.
  const teamSecrets = partitionArn("secretsmanager", `secret:${config.teamSecretPrefix}/*`);
  const teamSecretReaders: IConstruct[] = [o.budget.role, o.cleanup.role, o.deadline.role, o.events.role];
  if (compute.taskDefinition) teamSecretReaders.push(o.prepare.role);
  teamSecretReaders.push(approvals.handler.role);
  if (compute.taskDefinition) teamSecretReaders.push(compute.taskDefinition.obtainExecutionRole());
  for (const role of teamSecretReaders) {
    ack(
      role,
      `AwsSolutions-IAM5[Resource::${teamSecrets}]`,
      "Team secrets are named in manifests and created by users under the deployment's teamSecretPrefix; the prefix is the narrowest grant (the trailing * covers the -?????? suffix).",
    );
  }

  // Trigger HMAC keys (squadron/<namespace>/triggers/<name>), named in triggers: the api only.
  ack(
    api.handler.role,
    `AwsSolutions-IAM5[Resource::${partitionArn("secretsmanager", `secret:${config.teamSecretPrefix}/*/triggers/*`)}]`,
    "Trigger HMAC keys are named in AgentTeamTriggers and created by users under <teamSecretPrefix>/<namespace>/triggers/; that path is the narrowest grant, and it covers no other team secret.",
  );

  // Orchestration
  const smRole = orchestration.stateMachine.role;
  iam5(
    stack,
    smRole,
    "*",
    "X-Ray and CloudWatch Logs delivery actions support no resource-level permissions.",
  );
  for (const fn of [
    o.prepare.fn,
    o.dependencies.fn,
    o.cleanup.fn,
    approvals.handler.fn,
    outputs.handler.fn,
  ]) {
    iam5(
      stack,
      smRole,
      `${fn.functionArn}:*`,
      "Invoking the function's versions and aliases (CDK's LambdaInvoke grant).",
    );
  }
  iam5(
    stack,
    orchestration.schedulerRole,
    `${o.deadline.fn.functionArn}:*`,
    "Invoking the deadline function's versions and aliases.",
  );
  if (compute.cluster && compute.taskDefinition) {
    ack(
      smRole,
      `AwsSolutions-IAM5[Resource::${partitionArn("ecs", `task-definition/${compute.taskDefinition.family}:*`)}]`,
      "Every revision of the runner family: Prepare registers one per run.",
    );
    ack(
      smRole,
      `AwsSolutions-IAM5[Resource::${partitionArn("ecs", `task/${nagResource(stack, compute.cluster.clusterName)}/*`)}]`,
      "Tasks of Squadron's own cluster, started by the state machine: stop/describe them, and tag them only as RunTask creates them (ecs:CreateAction = RunTask) with the revision's propagated tags.",
    );
  }
  ack(orchestration.deadLetterQueue, "AwsSolutions-SQS3", "This queue is itself the dead-letter queue.");

  // API
  const root = api.restApi.root;
  ack(
    root.getResource("api")?.getResource("health")?.node.findChild("GET") as IConstruct,
    "AwsSolutions-APIG4",
    "Unauthenticated health check.",
  );
  ack(
    root.getResource("api")?.getResource("health")?.node.findChild("GET") as IConstruct,
    "AwsSolutions-COG4",
    "Unauthenticated health check.",
  );
  // The seed API's plain-text GET /health, answered by the same handler.
  const seedHealth = root.getResource("health")?.node.findChild("GET") as IConstruct;
  ack(seedHealth, "AwsSolutions-APIG4", "Unauthenticated health check (the seed API's GET /health).");
  ack(seedHealth, "AwsSolutions-COG4", "Unauthenticated health check (the seed API's GET /health).");
  const slack = root.getResource("webhooks")?.getResource("slack")?.node.findChild("POST") as IConstruct;
  const slackReason =
    "Slack cannot sign with SigV4; the approvals function verifies X-Slack-Signature (HMAC, 5-minute window).";
  ack(slack, "AwsSolutions-APIG4", slackReason);
  ack(slack, "AwsSolutions-COG4", slackReason);
  const hooks = root
    .getResource("hooks")
    ?.getResource("{namespace}")
    ?.getResource("{path+}")
    ?.node.findChild("POST") as IConstruct;
  const hooksReason =
    "Webhook senders (GitHub and the like) cannot sign with SigV4; the api function verifies X-Hub-Signature-256 (HMAC-SHA256 of the body with the trigger's key) before anything is read or created.";
  ack(hooks, "AwsSolutions-APIG4", hooksReason);
  ack(hooks, "AwsSolutions-COG4", hooksReason);
  for (const method of [
    root.getResource("api")?.node.findChild("ANY"),
    root.getResource("api")?.getResource("{proxy+}")?.node.findChild("ANY"),
  ]) {
    ack(
      method as IConstruct,
      "AwsSolutions-COG4",
      "Authorized with IAM (SigV4), as users and CI call it like kubectl.",
    );
  }
  const cloudWatchRole = api.restApi.node.tryFindChild("CloudWatchRole");
  if (cloudWatchRole) {
    ack(
      cloudWatchRole,
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
      "API Gateway's account-level logging role; AWS's managed policy is the documented one.",
    );
  }
  if (!config.waf) {
    ack(
      api.restApi.deploymentStage,
      "AwsSolutions-APIG3",
      "WAF is optional (squadron.waf); IAM auth and throttling apply.",
    );
  }
  if (compute.runnerImageBuild) acknowledgeDeployTimeBuild(stack);
}

/**
 * runnerImageBuild "codebuild": @cdklabs/deploy-time-build's CodeBuild project and its
 * custom-resource function (stack-level singletons), configured as the library ships them. They
 * run only during a deploy, build from the staged source zip, and push to the construct's own ECR
 * repository (scan on push).
 */
function acknowledgeDeployTimeBuild(stack: Stack): void {
  const singleton = (prefix: string) => {
    const found = stack.node.children.find((c) => c.node.id.startsWith(prefix));
    if (!found) throw new Error(`cdk-nag acknowledgement: no ${prefix}* construct in the stack.`);
    return found;
  };
  const handler = singleton("DeployTimeBuildCustomResourceHandler");
  const project = singleton("ContainerImageBuildAmd64");
  const managed = (name: string) => `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`;
  ack(
    handler,
    managed("service-role/AWSLambdaBasicExecutionRole"),
    "deploy-time-build's custom-resource function (starts the image build, deploy time only) logs with the basic execution policy.",
  );
  ack(
    handler,
    "AwsSolutions-L1",
    "deploy-time-build pins its handler's runtime (nodejs22.x); it runs only at deploy.",
  );
  ack(
    project,
    managed("AmazonElasticContainerRegistryPublicReadOnly"),
    "The image build pulls base images from ECR Public while logged in (no anonymous pull limits); read-only.",
  );
  ack(
    project,
    "AwsSolutions-CB4",
    "The build keeps no artifacts: it pushes the runner image to ECR (encrypted at rest) and its source zip is the CDK asset in the bootstrap bucket.",
  );
  const projectId = stack.getLogicalId((project.node.defaultChild ?? project) as CfnElement);
  const codebuildGrants =
    "CodeBuild's own grants to a project role (its log group's streams, its report groups), named after the project.";
  iam5(
    stack,
    project,
    `arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/codebuild/<${projectId}>:*`,
    codebuildGrants,
  );
  iam5(
    stack,
    project,
    `arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:report-group/<${projectId}>-*`,
    codebuildGrants,
  );
  iam5(
    stack,
    project,
    "*",
    "ecr:GetAuthorizationToken (the build logs in to ECR to push) has no resource-level permissions.",
  );
  for (const action of ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]) {
    ack(
      project,
      `AwsSolutions-IAM5[Action::${action}]`,
      "CDK's asset read grant: the build downloads its source zip from the bootstrap assets bucket.",
    );
  }
  iam5(
    stack,
    project,
    "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
    "CDK's asset read grant on the bootstrap assets bucket, where the build's source zip is staged.",
  );
}

/**
 * CDK's kubectl provider (a nested stack) applies the runners' namespace, service account and
 * volume on an EKS cluster; its two functions and roles are CDK's, configured as CDK ships them.
 */
function acknowledgeKubectlProvider(cluster: eks.ICluster, inVpc: boolean): void {
  const provider = eks.KubectlProvider.getOrCreate(cluster, cluster) as unknown as IConstruct;
  const handler = provider.node.tryFindChild("Handler") as lambda.Function | undefined;
  const framework = provider.node.tryFindChild("Provider")?.node.tryFindChild("framework-onEvent") as
    | lambda.Function
    | undefined;
  const nested = Stack.of(provider);
  const managed = (name: string) => `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${name}]`;
  ack(
    handler?.role,
    managed("service-role/AWSLambdaBasicExecutionRole"),
    "CDK's kubectl handler logs with the basic execution policy; it runs only at deploy.",
  );
  ack(
    handler?.role,
    managed("AmazonEC2ContainerRegistryPullOnly"),
    "CDK's kubectl handler can pull Helm charts from ECR; Squadron applies plain manifests only.",
  );
  const publicEcr = provider.node.tryFindChild("conditionalPolicy") as
    | { managedPolicyArn: string }
    | undefined;
  if (!publicEcr) throw new Error("cdk-nag acknowledgement: the kubectl provider has no conditionalPolicy.");
  ack(
    handler?.role,
    `AwsSolutions-IAM4[Policy::${JSON.stringify(nested.resolve(publicEcr.managedPolicyArn))}]`,
    "CDK's kubectl handler can pull Helm charts from ECR Public (aws partition only); Squadron applies plain manifests only.",
  );
  ack(
    handler,
    "AwsSolutions-L1",
    "The kubectl handler's runtime is set by aws-cdk-lib (its bundled Python handler), not by Squadron.",
  );
  ack(
    framework?.role,
    managed("service-role/AWSLambdaBasicExecutionRole"),
    "CDK's custom-resource framework function logs with the basic execution policy; it runs only at deploy.",
  );
  if (inVpc) {
    for (const role of [handler?.role, framework?.role]) {
      ack(
        role,
        managed("service-role/AWSLambdaVPCAccessExecutionRole"),
        "CDK's kubectl provider, in the cluster's VPC to reach a private endpoint (eks.kubectlSecurityGroupId), takes the VPC execution policy; it runs only at deploy.",
      );
    }
  }
  if (!handler) throw new Error("cdk-nag acknowledgement: the kubectl provider has no Handler.");
  iam5(
    nested,
    framework?.role as IConstruct,
    `${handler.functionArn}:*`,
    "The custom-resource framework invokes the kubectl handler's versions (CDK's grant).",
  );
}
