/**
 * Fine-grained assertions per construct on one offline ECS synth (synth costs seconds here, so
 * it runs once for the file).
 */

import type { CfnResource } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { EFS_RUNS_ROOT, ENV, type EnvNeeds } from "../../core/control/env-names.ts";
import { HANDLER_NAMES, type HandlerName } from "../../infra/bundling.ts";
import { INTERFACE_ENDPOINTS } from "../../infra/constructs/network.ts";
import { DASHBOARD_WIDGETS } from "../../infra/constructs/observability.ts";
import { RUNS_MOUNT, TEAM_DIR } from "../../infra/handler-env.ts";
import type { SquadronStack } from "../../infra/stack.ts";
import {
  environmentMismatches,
  functionVariables,
  handlerEnvironments,
  statementsOf,
  synth,
} from "./support.ts";

let template: Template;
let stack: SquadronStack;
let needs: Record<HandlerName, EnvNeeds>;

beforeAll(async () => {
  ({ template, stack } = synth({
    runnerImageUri: "public.ecr.aws/squadron/runner:test",
    alarmEmail: "ops@example.com",
  }));
  needs = await handlerEnvironments();
}, 120_000);

const resourcesOf = (statements: Array<Record<string, unknown>>) =>
  statements.flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));

/**
 * Object-level S3 grants on Squadron's bucket: action -> key patterns (the part after the bucket
 * ARN), sorted. Fails on an object grant in any other bucket.
 */
function objectGrants(statements: Array<Record<string, unknown>>): Record<string, string[]> {
  const bucketId = stack.getLogicalId(stack.storage.bucket.node.defaultChild as CfnResource);
  const out: Record<string, string[]> = {};
  for (const s of statements) {
    const actions = ([s.Action].flat() as string[]).filter((a) => a.endsWith("Object"));
    if (actions.length === 0) continue;
    for (const resource of [s.Resource].flat()) {
      const parts = (resource as { "Fn::Join": [string, unknown[]] })["Fn::Join"]?.[1];
      const ref = JSON.stringify(parts?.[0]);
      if (!ref?.includes(bucketId))
        throw new Error(`object grant outside the bucket: ${JSON.stringify(resource)}`);
      const pattern = String(parts?.[1]).replace(/^\//, "");
      for (const action of actions) out[action] = [...(out[action] ?? []), pattern];
    }
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

describe("network", () => {
  it("creates a VPC with private subnets, flow logs and the endpoints runners need", () => {
    template.resourceCountIs("AWS::EC2::VPC", 1);
    template.resourceCountIs("AWS::EC2::FlowLog", 1);
    const endpoints = template.findResources("AWS::EC2::VPCEndpoint");
    expect(Object.keys(endpoints)).toHaveLength(Object.keys(INTERFACE_ENDPOINTS).length + 2);
    const names = JSON.stringify(Object.values(endpoints).map((e) => e.Properties.ServiceName));
    for (const svc of [
      "ecr.api",
      "ecr.dkr",
      "ecs",
      "logs",
      "secretsmanager",
      "elasticfilesystem",
      "states",
      "dynamodb",
      "s3",
    ]) {
      expect(names).toContain(`.${svc}`);
    }
  });

  it("gives runners no inbound rule and HTTPS outbound", () => {
    template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      GroupDescription: Match.stringLikeRegexp("Squadron runners"),
      SecurityGroupEgress: Match.arrayWith([
        Match.objectLike({ FromPort: 443, ToPort: 443, CidrIp: "0.0.0.0/0" }),
      ]),
    });
    const sg = Object.values(template.findResources("AWS::EC2::SecurityGroup")).find((r) =>
      String(r.Properties.GroupDescription).startsWith("Squadron runners"),
    );
    expect(sg?.Properties.SecurityGroupIngress).toBeUndefined();
  });
});

describe("storage", () => {
  it("encrypts EFS, backs it up and requires TLS and IAM on mounts", () => {
    template.hasResourceProperties("AWS::EFS::FileSystem", {
      Encrypted: true,
      BackupPolicy: { Status: "ENABLED" },
      FileSystemPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("builds the table from the shared definition: keys, GSI, stream, TTL, PITR, encryption", () => {
    template.hasResourceProperties("AWS::DynamoDB::GlobalTable", {
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: "byNamespace" })],
      StreamSpecification: { StreamViewType: "NEW_AND_OLD_IMAGES" },
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
      SSESpecification: { SSEEnabled: true, SSEType: "KMS" },
    });
  });

  it("keeps data by default (retain)", () => {
    template.hasResource("AWS::DynamoDB::GlobalTable", { DeletionPolicy: "Retain" });
    template.hasResource("AWS::EFS::FileSystem", { DeletionPolicy: "Retain" });
  });

  it("blocks public access, versions and logs the bucket, and denies non-TLS", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      VersioningConfiguration: { Status: "Enabled" },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: "workspace/" }),
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});

describe("compute (ecs)", () => {
  it("has Container Insights and Fargate / Fargate Spot", () => {
    template.hasResourceProperties("AWS::ECS::Cluster", {
      ClusterSettings: [{ Name: "containerInsights", Value: "enabled" }],
    });
    template.hasResourceProperties("AWS::ECS::ClusterCapacityProviderAssociations", {
      CapacityProviders: Match.arrayWith(["FARGATE", "FARGATE_SPOT"]),
    });
  });

  it("injects every key as an ECS secret, not as plain environment", () => {
    const td = Object.values(template.findResources("AWS::ECS::TaskDefinition"))[0];
    const container = td?.Properties.ContainerDefinitions[0];
    expect(container.Name).toBe("runner");
    expect(container.User).toBe("1000:1000");
    expect(container.Secrets.map((s: { Name: string }) => s.Name).sort()).toEqual(
      ["ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY"].sort(),
    );
    const plain = JSON.stringify(container.Environment);
    expect(plain).not.toMatch(/KEY|TOKEN|SECRET/);
  });

  it("lets the runner write table items only: no object write, reads of manifests and inputs", () => {
    const statements = statementsOf(template, "ComputeRunnerTaskRole");
    const actions = statements.flatMap((s) => [s.Action].flat() as string[]);
    expect(actions).not.toContain("dynamodb:Scan");
    expect(actions.filter((a) => a.startsWith("s3:")).sort()).toEqual(["s3:GetObject", "s3:ListBucket"]);
    expect(objectGrants(statements)).toEqual({
      "s3:GetObject": ["configmaps/*", "inputs/*", "run-manifests/*"],
    });
    const list = statements.find((s) => s.Action === "s3:ListBucket");
    expect(list?.Condition).toEqual({ StringLike: { "s3:prefix": ["inputs/*", "configmaps/*"] } });
    expect(JSON.stringify(resourcesOf(statements))).not.toContain('"*"');
  });
});

describe("outputs", () => {
  it("lets only the outputs function write a run's outputs, and prepare only run manifests", () => {
    expect(objectGrants(statementsOf(template, "OutputsRole"))).toEqual({
      "s3:PutObject": ["outputs/*", "runs/*"],
    });
    expect(objectGrants(statementsOf(template, "OrchestrationPrepareRole"))).toEqual({
      "s3:PutObject": ["run-manifests/*"],
    });
    // No other role may put objects in Squadron's bucket.
    const writers = Object.values(template.findResources("AWS::IAM::Policy"))
      .filter((p) =>
        (p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).some((s) =>
          JSON.stringify(s.Action).includes("s3:PutObject"),
        ),
      )
      .map((p) => JSON.stringify(p.Properties.Roles).match(/"(\w+?)Role[0-9A-F]{8}"/)?.[1]);
    expect(writers.sort()).toEqual(["OrchestrationPrepare", "Outputs"]);
  });

  it("is the DeliverOutputs state's function, with the run's fifteen minutes", () => {
    const fn = Object.entries(template.findResources("AWS::Lambda::Function")).find(([id]) =>
      id.startsWith("OutputsFunction"),
    )?.[1];
    expect(fn?.Properties.Timeout).toBe(900);
    const definition = JSON.stringify(template.findResources("AWS::StepFunctions::StateMachine"));
    expect(definition).toContain("DeliverOutputs");
    expect(definition).toContain(
      stack.getLogicalId(stack.outputs.handler.fn.node.defaultChild as CfnResource),
    );
  });
});

describe("orchestration", () => {
  it("logs ALL with execution data to its own log group and traces with X-Ray", () => {
    template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      StateMachineType: "STANDARD",
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: "ALL", IncludeExecutionData: true }),
    });
    template.hasResourceProperties("AWS::Logs::LogGroup", {
      LogGroupName: Match.stringLikeRegexp("vendedlogs/states/.*team-run"),
      RetentionInDays: 30,
    });
  });

  it("can run only the runner family in its cluster and pass only the runner's roles", () => {
    const statements = statementsOf(template, "OrchestrationTeamRunRole");
    const runTask = statements.find((s) => s.Action === "ecs:RunTask");
    expect(JSON.stringify(runTask?.Resource)).toContain(":task-definition/Squadron-runner:*");
    expect(runTask?.Condition).toEqual({
      ArnEquals: { "ecs:cluster": { "Fn::GetAtt": [expect.stringMatching(/^ComputeCluster/), "Arn"] } },
    });
    const passRole = statements.find((s) => s.Action === "iam:PassRole");
    expect(passRole?.Condition).toEqual({
      StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" },
    });
    expect(passRole?.Resource).toHaveLength(2);
    expect(JSON.stringify(passRole?.Resource)).not.toContain('"*"');
  });

  it("gives every function its own role, its own log group, Node 22, ESM-ready and traced", () => {
    const fns = Object.values(template.findResources("AWS::Lambda::Function")).filter(
      (f) => f.Properties.Runtime === "nodejs22.x",
    );
    expect(fns).toHaveLength(HANDLER_NAMES.length);
    const roles = new Set(fns.map((f) => JSON.stringify(f.Properties.Role)));
    expect(roles.size).toBe(HANDLER_NAMES.length);
    for (const f of fns) {
      expect(f.Properties.TracingConfig).toEqual({ Mode: "Active" });
      expect(f.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
    // No AWS managed policies on the functions' roles.
    const roleResources = template.findResources("AWS::IAM::Role", {
      Properties: { Description: Match.stringLikeRegexp("^Squadron .* function$") },
    });
    expect(Object.keys(roleResources)).toHaveLength(HANDLER_NAMES.length);
    for (const r of Object.values(roleResources)) expect(r.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("feeds the budget function from the table stream with a DLQ, and routes status events", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      StartingPosition: "LATEST",
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
      BisectBatchOnFunctionError: true,
    });
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: Match.objectLike({ source: ["aws.states"] }),
    });
    template.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: Match.objectLike({
        source: ["aws.ecs"],
        detail: Match.objectLike({ lastStatus: ["STOPPED"] }),
      }),
    });
  });

  it("scopes StopExecution and task responses to its own state machine", () => {
    for (const role of ["OrchestrationBudgetRole", "OrchestrationDeadlineRole"]) {
      const stop = statementsOf(template, role).find((s) =>
        JSON.stringify(s.Action).includes("states:StopExecution"),
      );
      expect(JSON.stringify(stop?.Resource)).toContain("execution:Squadron-team-run:*");
    }
    const respond = statementsOf(template, "OrchestrationDependenciesRole").find((s) =>
      JSON.stringify(s.Action).includes("states:SendTaskSuccess"),
    );
    expect(JSON.stringify(respond?.Resource)).toContain("stateMachine:Squadron-team-run");
  });
});

describe("api", () => {
  const methods = () => Object.values(template.findResources("AWS::ApiGateway::Method"));
  it("requires IAM on every route except health, the Slack endpoint and the trigger webhooks", () => {
    const byAuth = methods().map((m) => [m.Properties.HttpMethod, m.Properties.AuthorizationType]);
    expect(
      byAuth
        .filter(([, a]) => a === "NONE")
        .map(([h]) => h)
        .sort(),
    ).toEqual(["GET", "GET", "POST", "POST"]);
    expect(byAuth.filter(([, a]) => a === "AWS_IAM")).toHaveLength(2);
  });

  it("serves the unsigned health checks at /api/health and the seed API's /health, where the handler answers them", () => {
    const resources = template.findResources("AWS::ApiGateway::Resource");
    const pathOf = (id: string): string => {
      const resource = resources[id];
      if (!resource) return "";
      const parent = resource.Properties.ParentId;
      const parentPath = parent?.Ref ? pathOf(parent.Ref) : "";
      return `${parentPath}/${resource.Properties.PathPart}`;
    };
    const unsignedGet = methods().filter(
      (m) => m.Properties.HttpMethod === "GET" && m.Properties.AuthorizationType === "NONE",
    );
    expect(unsignedGet.map((m) => pathOf(m.Properties.ResourceId.Ref)).sort()).toEqual([
      "/api/health",
      "/health",
    ]);
  });

  it("validates requests and requires Slack's signature headers", () => {
    template.resourceCountIs("AWS::ApiGateway::RequestValidator", 1);
    template.hasResourceProperties("AWS::ApiGateway::Method", {
      HttpMethod: "POST",
      RequestParameters: {
        "method.request.header.X-Slack-Signature": true,
        "method.request.header.X-Slack-Request-Timestamp": true,
      },
    });
  });

  it("writes JSON access logs, traces and throttles the stage", () => {
    template.hasResourceProperties("AWS::ApiGateway::Stage", {
      TracingEnabled: true,
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
      MethodSettings: [
        Match.objectLike({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100, LoggingLevel: "ERROR" }),
      ],
    });
  });

  it("reads runner logs from the runner log group only, named in its environment", () => {
    const runnerGroup = stack.resolve(stack.compute.logGroup.logGroupName);
    const filter = statementsOf(template, "ApiRole").filter((s) =>
      JSON.stringify(s.Action).includes("logs:FilterLogEvents"),
    );
    expect(filter).toHaveLength(1);
    expect(JSON.stringify(filter[0]?.Resource)).toContain(
      JSON.stringify(stack.resolve(stack.compute.logGroup.logGroupArn)).slice(1, -1),
    );
    const api = Object.values(template.findResources("AWS::Lambda::Function")).find(
      (f) => f.Properties.Environment?.Variables?.SQUADRON_RUNNER_LOG_GROUP !== undefined,
    );
    expect(api?.Properties.Environment.Variables.SQUADRON_RUNNER_LOG_GROUP).toEqual(runnerGroup);
    expect(api?.Properties.Environment.Variables.SQUADRON_STATE_MACHINE_ARN).toBeDefined();
  });

  it("starts executions of its state machine only", () => {
    // minimizePolicies (a recommended flag) may merge statements: find the one that names it.
    const start = statementsOf(template, "ApiRole").find((s) =>
      [s.Action].flat().includes("states:StartExecution"),
    );
    expect(JSON.stringify(start?.Resource)).toContain("stateMachine:Squadron-team-run");
  });
});

describe("observability", () => {
  it("has a dashboard with every widget", () => {
    const dashboard = Object.values(template.findResources("AWS::CloudWatch::Dashboard"))[0];
    const body = JSON.stringify(dashboard?.Properties.DashboardBody);
    for (const title of DASHBOARD_WIDGETS) expect(body).toContain(title);
  });

  it("alarms on failed executions, Lambda errors, DLQ depth, budget stops, API 5xx and unreleased run resources into SNS", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms).toHaveLength(6);
    const text = JSON.stringify(alarms);
    for (const metric of [
      "ExecutionsFailed",
      "ApproximateNumberOfMessagesVisible",
      "BudgetStops",
      "5XXError",
      "RunResourceCleanupFailures",
    ]) {
      expect(text).toContain(metric);
    }
    expect(text).toContain("Errors");
    for (const a of alarms) expect(a.Properties.AlarmActions).toHaveLength(1);
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.com",
    });
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
  });

  it("sets retention on every log group", () => {
    for (const g of Object.values(template.findResources("AWS::Logs::LogGroup"))) {
      expect(g.Properties.RetentionInDays).toBe(30);
    }
  });

  it("exposes the stack's outputs", () => {
    expect(Object.keys(template.findOutputs("*"))).toEqual(
      expect.arrayContaining(["ApiUrl", "SlackInteractivityUrl", "StateMachineArn", "TableName"]),
    );
    expect(stack.stackName).toBe("Squadron");
  });
});

describe("handler environment (ECS, no Slack)", () => {
  const vars = (name: HandlerName) => {
    const fn = stack.handlerFunctions().find((f) => f.name === name);
    if (!fn) throw new Error(`no ${name} function`);
    return functionVariables(stack, template, fn);
  };
  const ref = (construct: { node: { defaultChild?: unknown } }) => ({
    Ref: stack.getLogicalId(construct.node.defaultChild as CfnResource),
  });

  it("gives every function each variable its handler requires, and none it does not read", () => {
    expect(environmentMismatches(stack, template, { compute: "ecs", slack: false }, needs)).toEqual([]);
  });

  it("reports a required variable that is missing and one that nobody reads", () => {
    const prepare: EnvNeeds = { ...needs.prepare };
    delete prepare.teamDir;
    const drifted = { ...needs, budget: { ...needs.budget, bucket: "always" as const }, prepare };
    expect(environmentMismatches(stack, template, { compute: "ecs", slack: false }, drifted)).toEqual([
      `prepare: ${ENV.teamDir} is set but lambdas/prepare/handler.ts never reads it`,
      `budget: ${ENV.bucket} is required but not set`,
    ]);
  });

  it("points Prepare at the runner's base revision, its EFS volume and mount path, and the scheduler", () => {
    const prepare = vars("prepare");
    const td = stack.compute.taskDefinition;
    if (!td) throw new Error("no task definition");
    expect(prepare[ENV.taskDefinition]).toEqual(ref(td));
    expect(prepare[ENV.fileSystem]).toEqual(ref(stack.storage.fileSystem));
    const definition = template.toJSON().Resources[ref(td).Ref].Properties;
    expect(definition.Volumes).toEqual([
      expect.objectContaining({
        Name: prepare[ENV.volume],
        EFSVolumeConfiguration: expect.objectContaining({ TransitEncryption: "ENABLED" }),
      }),
    ]);
    expect(definition.ContainerDefinitions[0].MountPoints).toEqual([
      { ContainerPath: TEAM_DIR, ReadOnly: false, SourceVolume: prepare[ENV.volume] },
    ]);
    expect(prepare[ENV.teamDir]).toBe(TEAM_DIR);
    for (const name of ["prepare", "cleanup", "events"] as const) {
      expect(vars(name)[ENV.deadlineTarget]).toEqual(
        stack.resolve(stack.orchestration.functions.deadline.fn.functionArn),
      );
      expect(vars(name)[ENV.deadlineRole]).toEqual(stack.resolve(stack.orchestration.schedulerRole.roleArn));
    }
    const create = statementsOf(template, "OrchestrationPrepareRole").find((s) =>
      JSON.stringify(s.Action).includes("scheduler:CreateSchedule"),
    );
    expect(JSON.stringify(create?.Resource)).toContain("schedule/Squadron-deadlines/*");
    // The api keeps AgentTeamSchedule's schedules (their own group), never a run's deadline.
    const apiScheduler = statementsOf(template, "ApiRole").filter((s) =>
      JSON.stringify(s.Action).includes("scheduler:"),
    );
    expect(apiScheduler.length).toBeGreaterThan(0);
    for (const s of apiScheduler) {
      expect(JSON.stringify(s.Resource)).not.toContain("Squadron-deadlines");
      expect(JSON.stringify(s.Resource)).toContain("Squadron-team-schedules");
    }
  });

  it("signs gate webhooks with a generated secret that only the approvals function reads, by ARN", () => {
    const secret = stack.approvals.webhookSecret;
    expect(vars("approvals")[ENV.webhookSecret]).toEqual(ref(secret));
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      Name: "Squadron/webhook-signing-secret",
      GenerateSecretString: Match.objectLike({ PasswordLength: 48 }),
    });
    const readers = Object.values(template.findResources("AWS::IAM::Policy"))
      .filter((p) =>
        (p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>).some(
          (s) =>
            JSON.stringify(s.Action).includes("secretsmanager:GetSecretValue") &&
            JSON.stringify(s.Resource) === JSON.stringify(ref(secret)),
        ),
      )
      .map((p) => JSON.stringify(p.Properties.Roles));
    expect(readers).toHaveLength(1);
    expect(readers[0]).toContain("ApprovalsRole");
  });

  it.each([
    ["api", "Api", () => stack.api.securityGroup],
    ["outputs", "Outputs", () => stack.outputs.securityGroup],
  ] as const)(
    "mounts the runs' root read-only into the %s function, in private subnets, NFS only to EFS",
    (_name, prefix, securityGroup) => {
      const [fnId, fn] = Object.entries(template.findResources("AWS::Lambda::Function")).find(([id]) =>
        id.startsWith(`${prefix}Function`),
      ) ?? [undefined, undefined];
      expect(fnId).toBeDefined();
      expect(fn?.Properties.Environment.Variables[ENV.runsMount]).toBe(RUNS_MOUNT);
      expect(fn?.Properties.FileSystemConfigs).toEqual([
        { Arn: stack.resolve(stack.storage.runsReader.accessPointArn), LocalMountPath: RUNS_MOUNT },
      ]);
      const privateSubnets = stack.resolve(
        stack.network.vpc.selectSubnets(stack.network.runnerSubnets).subnetIds,
      );
      expect(fn?.Properties.VpcConfig.SubnetIds).toEqual(privateSubnets);
      const sgId = stack.getLogicalId(securityGroup().node.defaultChild as CfnResource);
      expect(fn?.Properties.VpcConfig.SecurityGroupIds).toEqual([{ "Fn::GetAtt": [sgId, "GroupId"] }]);
      template.hasResourceProperties("AWS::EFS::AccessPoint", {
        RootDirectory: { Path: EFS_RUNS_ROOT, CreationInfo: Match.objectLike({ Permissions: "755" }) },
        PosixUser: { Uid: "0", Gid: "0" },
      });

      const role = `${prefix}Role`;
      const efsActions = statementsOf(template, role).filter((s) =>
        JSON.stringify(s.Action).includes("elasticfilesystem:"),
      );
      expect(efsActions).toHaveLength(1);
      expect(efsActions[0]?.Action).toEqual([
        "elasticfilesystem:ClientMount",
        "elasticfilesystem:ClientRootAccess",
      ]);
      expect(efsActions[0]?.Resource).toEqual({
        "Fn::GetAtt": [stack.getLogicalId(stack.storage.fileSystem.node.defaultChild as CfnResource), "Arn"],
      });
      expect(JSON.stringify(efsActions[0]?.Condition)).toContain("elasticfilesystem:AccessPointArn");
      // Its own role gets the ENI actions inline, not AWSLambdaVPCAccessExecutionRole.
      expect(
        statementsOf(template, role).some((s) =>
          JSON.stringify(s.Action).includes("ec2:CreateNetworkInterface"),
        ),
      ).toBe(true);

      const sg = template.toJSON().Resources[sgId].Properties;
      expect(sg.SecurityGroupIngress).toBeUndefined();
      expect(sg.SecurityGroupEgress.map((r: { FromPort: number }) => r.FromPort)).toEqual([443]);
      const nfs = Object.values(template.findResources("AWS::EC2::SecurityGroupEgress")).filter((r) =>
        JSON.stringify(r.Properties.GroupId).includes(sgId),
      );
      expect(nfs.map((r) => [r.Properties.FromPort, r.Properties.ToPort])).toEqual([[2049, 2049]]);
      const ingress = Object.values(template.findResources("AWS::EC2::SecurityGroupIngress")).filter((r) =>
        JSON.stringify(r.Properties.SourceSecurityGroupId).includes(sgId),
      );
      expect(ingress.map((r) => [r.Properties.FromPort, r.Properties.ToPort])).toEqual([[2049, 2049]]);
      expect(JSON.stringify(ingress[0]?.Properties.GroupId)).toContain(
        stack.getLogicalId(
          stack.storage.fileSystem.connections.securityGroups[0]?.node.defaultChild as CfnResource,
        ),
      );
    },
  );
});
