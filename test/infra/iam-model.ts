/**
 * The synthesised template as IAM sees it: intrinsic functions resolved to concrete names and ARNs
 * (one fixed account and region), each role's identity policies, each resource's resource policy,
 * and an evaluator (@cloud-copilot/iam-simulate, a real implementation of AWS's policy evaluation
 * logic: explicit deny, identity and resource policies, condition operators) that answers whether a
 * request would be allowed. test/infra/iam-evaluation.test.ts feeds it the calls Squadron makes.
 */
import { createHash } from "node:crypto";
import { runSimulation, runUnsafeSimulation, type Simulation } from "@cloud-copilot/iam-simulate";

/**
 * Actions the Service Authorization Reference lists with no resource type, which AWS nevertheless
 * authorises against a resource: a task-token response is checked against the state machine whose
 * execution issued the token (the AccessDenied names it: "not authorized to perform:
 * states:SendTaskFailure on resource: arn:aws:states:...:stateMachine:..."; CDK's
 * grantTaskResponse grants on the state machine, tested in aws/aws-cdk#8486). The evaluator's
 * validation would insist on "*", so these are evaluated without it.
 */
const AUTHORISED_ON_RESOURCE_DESPITE_REFERENCE = new Set([
  "states:SendTaskSuccess",
  "states:SendTaskFailure",
  "states:SendTaskHeartbeat",
]);

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";
export const PARTITION = "aws";

type Json = unknown;
interface CfnResource {
  Type: string;
  Properties?: Record<string, Json>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

const hex = (s: string, n: number) => createHash("sha256").update(s).digest("hex").slice(0, n);

/** A policy document in the shape the evaluator takes. */
export type PolicyDocument = { Version?: string; Statement: Json[] };

export interface EvaluatedRequest {
  /** Who: a role ARN, or a service principal such as "cloudwatch.amazonaws.com". */
  principal: string;
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

export interface Decision {
  result: "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Error";
  detail?: string;
}

export class IamModel {
  readonly stackName: string;
  private readonly resources: Record<string, CfnResource>;

  constructor(template: CfnTemplate, stackName: string) {
    this.resources = template.Resources;
    this.stackName = stackName;
  }

  // ---- names --------------------------------------------------------------------------------

  private resource(id: string): CfnResource {
    const r = this.resources[id];
    if (!r) throw new Error(`the template has no resource ${id}`);
    return r;
  }

  private prop(id: string, name: string): string | undefined {
    const v = this.resource(id).Properties?.[name];
    return v === undefined ? undefined : (this.resolve(v) as string);
  }

  /** The physical id CloudFormation's Ref returns, for the resource types Squadron's policies name. */
  ref(id: string): string {
    const { Type } = this.resource(id);
    const arn = (service: string, resource: string) =>
      `arn:${PARTITION}:${service}:${REGION}:${ACCOUNT}:${resource}`;
    switch (Type) {
      case "AWS::DynamoDB::GlobalTable":
      case "AWS::DynamoDB::Table":
        return this.prop(id, "TableName") ?? `${this.stackName}-${id}`;
      case "AWS::S3::Bucket":
        return this.prop(id, "BucketName") ?? `${this.stackName}-${id}`.toLowerCase();
      case "AWS::EFS::FileSystem":
        return `fs-${hex(id, 17)}`;
      case "AWS::EFS::AccessPoint":
        return `fsap-${hex(id, 17)}`;
      case "AWS::IAM::Role":
        return this.prop(id, "RoleName") ?? `${this.stackName}-${id}`.slice(0, 64);
      case "AWS::Lambda::Function":
        return this.prop(id, "FunctionName") ?? `${this.stackName}-${id}`.slice(0, 64);
      case "AWS::SecretsManager::Secret":
        return arn("secretsmanager", `secret:${this.prop(id, "Name") ?? id}-${hex(id, 6)}`);
      case "AWS::ECS::Cluster":
        return this.prop(id, "ClusterName") ?? `${this.stackName}-${id}`;
      case "AWS::ECS::TaskDefinition":
        return arn("ecs", `task-definition/${this.prop(id, "Family") ?? id}:1`);
      case "AWS::Logs::LogGroup":
        return this.prop(id, "LogGroupName") ?? `${this.stackName}-${id}`;
      case "AWS::SQS::Queue":
        return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${this.prop(id, "QueueName") ?? id}`;
      case "AWS::SNS::Topic":
        return arn("sns", this.prop(id, "TopicName") ?? `${this.stackName}-${id}`);
      case "AWS::StepFunctions::StateMachine":
        return arn("states", `stateMachine:${this.prop(id, "StateMachineName") ?? id}`);
      case "AWS::KMS::Key":
        return `${hex(id, 8)}-0000-4000-8000-${hex(id, 12)}`;
      case "AWS::Scheduler::ScheduleGroup":
        return this.prop(id, "Name") ?? id;
      case "AWS::Events::Rule":
        return this.prop(id, "Name") ?? `${this.stackName}-${id}`;
      default:
        return id;
    }
  }

  getAtt(id: string, attribute: string): string {
    const { Type } = this.resource(id);
    const arn = (service: string, resource: string) =>
      `arn:${PARTITION}:${service}:${REGION}:${ACCOUNT}:${resource}`;
    if (attribute === "Arn") {
      switch (Type) {
        case "AWS::DynamoDB::GlobalTable":
        case "AWS::DynamoDB::Table":
          return arn("dynamodb", `table/${this.ref(id)}`);
        case "AWS::S3::Bucket":
          return `arn:${PARTITION}:s3:::${this.ref(id)}`;
        case "AWS::EFS::FileSystem":
          return arn("elasticfilesystem", `file-system/${this.ref(id)}`);
        case "AWS::EFS::AccessPoint":
          return arn("elasticfilesystem", `access-point/${this.ref(id)}`);
        case "AWS::IAM::Role":
          return `arn:${PARTITION}:iam::${ACCOUNT}:role/${this.ref(id)}`;
        case "AWS::Lambda::Function":
          return arn("lambda", `function:${this.ref(id)}`);
        case "AWS::ECS::Cluster":
          return arn("ecs", `cluster/${this.ref(id)}`);
        case "AWS::Logs::LogGroup":
          return arn("logs", `log-group:${this.ref(id)}:*`);
        case "AWS::SQS::Queue":
          return arn("sqs", this.prop(id, "QueueName") ?? id);
        case "AWS::SNS::Topic":
          return this.ref(id);
        case "AWS::StepFunctions::StateMachine":
          return this.ref(id);
        case "AWS::KMS::Key":
          return arn("kms", `key/${this.ref(id)}`);
        case "AWS::Scheduler::ScheduleGroup":
          return arn("scheduler", `schedule-group/${this.ref(id)}`);
        case "AWS::Events::Rule":
          return arn("events", `rule/${this.ref(id)}`);
        default:
          return arn("unknown", id);
      }
    }
    if (attribute === "StreamArn") return `${this.getAtt(id, "Arn")}/stream/2026-01-01T00:00:00.000`;
    if (attribute === "GroupId") return `sg-${hex(id, 17)}`;
    if (attribute === "Name") return this.ref(id);
    if (attribute === "KeyId") return this.ref(id);
    return `${id}.${attribute}`;
  }

  /** A template value with Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and pseudo parameters resolved. */
  resolve(value: Json): Json {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== "object") return value;
    const o = value as Record<string, Json>;
    if ("Ref" in o) {
      const name = o.Ref as string;
      const pseudo: Record<string, string> = {
        "AWS::Partition": PARTITION,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
        "AWS::StackName": this.stackName,
        "AWS::URLSuffix": "amazonaws.com",
      };
      return pseudo[name] ?? this.ref(name);
    }
    if ("Fn::GetAtt" in o) {
      const [id, attr] = o["Fn::GetAtt"] as [string, string];
      return this.getAtt(id, attr);
    }
    if ("Fn::Join" in o) {
      const [sep, parts] = o["Fn::Join"] as [string, Json[]];
      return parts.map((p) => this.resolve(p)).join(sep);
    }
    if ("Fn::Select" in o) {
      const [i, list] = o["Fn::Select"] as [number, Json];
      return (this.resolve(list) as Json[])[Number(i)];
    }
    if ("Fn::Sub" in o) {
      const text = o["Fn::Sub"] as string;
      return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) =>
        String(
          name.includes(".") ? this.resolve({ "Fn::GetAtt": name.split(".") }) : this.resolve({ Ref: name }),
        ),
      );
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, this.resolve(v)]));
  }

  // ---- policies -----------------------------------------------------------------------------

  /** The role ARN of a role's logical id. */
  roleArn(roleId: string): string {
    return this.getAtt(roleId, "Arn");
  }

  /**
   * Every identity policy of a role: inline Policies and the AWS::IAM::Policy resources naming it.
   * A role the stack imports (e.g. the EKS cluster's EFS CSI node role) has no AWS::IAM::Role here:
   * its policies are the AWS::IAM::Policy resources that name it by its role name.
   */
  identityPolicies(roleArn: string): Array<{ name: string; policy: PolicyDocument }> {
    const roleId = Object.keys(this.resources).find(
      (id) => this.resources[id]?.Type === "AWS::IAM::Role" && this.roleArn(id) === roleArn,
    );
    if (!roleId) return this.importedRolePolicies(roleArn);
    const out: Array<{ name: string; policy: PolicyDocument }> = [];
    const role = this.resource(roleId);
    for (const p of (role.Properties?.Policies as Array<{ PolicyName: string; PolicyDocument: Json }>) ??
      []) {
      out.push({ name: p.PolicyName, policy: this.resolve(p.PolicyDocument) as PolicyDocument });
    }
    const managed = (role.Properties?.ManagedPolicyArns as Json[] | undefined) ?? [];
    if (managed.length > 0) {
      throw new Error(
        `${roleId} has managed policies ${JSON.stringify(this.resolve(managed))}, whose content this model does not hold`,
      );
    }
    for (const [id, r] of Object.entries(this.resources)) {
      if (r.Type !== "AWS::IAM::Policy") continue;
      const roles = (r.Properties?.Roles as Array<{ Ref?: string }>) ?? [];
      if (!roles.some((x) => x.Ref === roleId)) continue;
      out.push({ name: id, policy: this.resolve(r.Properties?.PolicyDocument) as PolicyDocument });
    }
    return out;
  }

  private importedRolePolicies(roleArn: string): Array<{ name: string; policy: PolicyDocument }> {
    const match = /^arn:[\w-]+:iam::\d{12}:role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
    const out: Array<{ name: string; policy: PolicyDocument }> = [];
    for (const [id, r] of Object.entries(this.resources)) {
      if (r.Type !== "AWS::IAM::Policy" || !match) continue;
      const roles = this.resolve(r.Properties?.Roles ?? []) as unknown[];
      if (!roles.includes(match[1])) continue;
      out.push({ name: id, policy: this.resolve(r.Properties?.PolicyDocument) as PolicyDocument });
    }
    if (out.length === 0) throw new Error(`no role with ARN ${roleArn}, and no policy of the stack names it`);
    return out;
  }

  /**
   * The resource policy that governs `resourceArn`, if the stack sets one: the EFS file-system
   * policy, an S3 bucket policy (for the bucket and its objects), the SNS topic policy, an SQS
   * queue policy, a KMS key policy, Lambda permissions (as one policy per function).
   */
  resourcePolicy(resourceArn: string): PolicyDocument | undefined {
    const statements: Json[] = [];
    for (const [id, r] of Object.entries(this.resources)) {
      const p = r.Properties ?? {};
      switch (r.Type) {
        case "AWS::EFS::FileSystem":
          if (p.FileSystemPolicy && resourceArn === this.getAtt(id, "Arn")) {
            statements.push(
              ...withResource((this.resolve(p.FileSystemPolicy) as PolicyDocument).Statement, resourceArn),
            );
          }
          break;
        case "AWS::S3::BucketPolicy": {
          const bucketArn = `arn:${PARTITION}:s3:::${this.resolve(p.Bucket)}`;
          if (resourceArn === bucketArn || resourceArn.startsWith(`${bucketArn}/`)) {
            statements.push(...(this.resolve(p.PolicyDocument) as PolicyDocument).Statement);
          }
          break;
        }
        case "AWS::SNS::TopicPolicy":
          if ((this.resolve(p.Topics) as string[]).includes(resourceArn)) {
            statements.push(...(this.resolve(p.PolicyDocument) as PolicyDocument).Statement);
          }
          break;
        case "AWS::SQS::QueuePolicy": {
          const urls = this.resolve(p.Queues) as string[];
          const arns = urls.map((u) => {
            const [, , , account, name] = u.split("/");
            return `arn:${PARTITION}:sqs:${REGION}:${account}:${name}`;
          });
          if (arns.includes(resourceArn)) {
            statements.push(...(this.resolve(p.PolicyDocument) as PolicyDocument).Statement);
          }
          break;
        }
        case "AWS::KMS::Key":
          if (resourceArn === this.getAtt(id, "Arn")) {
            statements.push(
              ...withResource((this.resolve(p.KeyPolicy) as PolicyDocument).Statement, resourceArn),
            );
          }
          break;
        case "AWS::Lambda::Permission": {
          const fn = this.resolve(p.FunctionName) as string;
          if (resourceArn === fn || resourceArn.startsWith(`${fn}:`)) {
            const principal = this.resolve(p.Principal) as string;
            const condition: Record<string, Record<string, string>> = {};
            if (p.SourceArn) condition.ArnLike = { "aws:SourceArn": this.resolve(p.SourceArn) as string };
            if (p.SourceAccount)
              condition.StringEquals = { "aws:SourceAccount": this.resolve(p.SourceAccount) as string };
            statements.push({
              Effect: "Allow",
              Principal: principal.endsWith(".amazonaws.com") ? { Service: principal } : { AWS: principal },
              Action: this.resolve(p.Action),
              Resource: fn,
              ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
            });
          }
          break;
        }
      }
    }
    return statements.length > 0 ? { Version: "2012-10-17", Statement: statements } : undefined;
  }

  /** The trust policy of one of the stack's roles (who may assume it). */
  trustPolicy(roleArn: string): PolicyDocument | undefined {
    const roleId = Object.keys(this.resources).find(
      (id) => this.resources[id]?.Type === "AWS::IAM::Role" && this.roleArn(id) === roleArn,
    );
    const document = roleId ? this.resource(roleId).Properties?.AssumeRolePolicyDocument : undefined;
    if (!document) return undefined;
    return {
      Version: "2012-10-17",
      Statement: withResource((this.resolve(document) as PolicyDocument).Statement, roleArn),
    };
  }

  // ---- evaluation ---------------------------------------------------------------------------

  /**
   * AWS's decision on one request: the principal's identity policies (none for a service
   * principal) and the resource's policy, same account. TLS is on (every SDK and the EFS mount
   * helper use it), so `aws:SecureTransport` is true unless the request says otherwise.
   */
  async evaluate(request: EvaluatedRequest): Promise<Decision> {
    const isService = request.principal.endsWith(".amazonaws.com");
    // Assuming a role is authorised by the role's trust policy, which acts as its resource policy.
    const resourcePolicy = request.action.startsWith("sts:")
      ? this.trustPolicy(request.resource)
      : this.resourcePolicy(request.resource);
    const context: Record<string, string | string[]> = {
      "aws:SecureTransport": "true",
      ...(isService ? {} : { "aws:PrincipalArn": request.principal, "aws:PrincipalAccount": ACCOUNT }),
      ...(isService ? { "aws:PrincipalServiceName": request.principal } : {}),
      ...request.context,
    };
    const simulation: Simulation = {
      request: {
        principal: request.principal,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables: context,
      },
      identityPolicies: isService ? [] : this.identityPolicies(request.principal),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    };
    if (AUTHORISED_ON_RESOURCE_DESPITE_REFERENCE.has(request.action)) {
      return { result: runUnsafeSimulation(simulation, { simulationMode: "Strict" }) };
    }
    const result = await runSimulation(simulation, { simulationMode: "Strict" });
    if (result.resultType === "error") return { result: "Error", detail: JSON.stringify(result.errors) };
    return { result: result.overallResult };
  }
}

/** Statements of a resource policy stored without Resource (EFS, KMS) apply to their own resource. */
function withResource(statements: Json[], resourceArn: string): Json[] {
  return statements.map((s) => {
    const st = s as Record<string, Json>;
    return "Resource" in st || "NotResource" in st ? st : { ...st, Resource: resourceArn };
  });
}
