/**
 * AWS CloudFormation Guard (Control Tower proactive controls, through
 * @cdklabs/cdk-validator-cfnguard) findings Squadron accepts, each on the resources it concerns and
 * with its reason, as cdk-nag's are (nag-suppressions.ts). test/infra/aws-validators.test.ts runs
 * the rules on the synthesised app; a finding not acknowledged here fails it.
 */
import { CfnResource, type Stack, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { IConstruct } from "constructs";

const GUARD = "cdk-validator-cfnguard";

function ack(construct: IConstruct, rule: string, reason: string): void {
  Validations.of(construct).acknowledge({ id: `${GUARD}::${rule}`, reason });
}

export function applyGuardAcknowledgements(stack: Stack): void {
  for (const c of stack.node.findAll()) {
    if (c instanceof logs.CfnLogGroup) {
      ack(
        c,
        "cloudwatch_log_group_retention_period_check",
        "Retention is the operator's logRetentionDays (default 30 days, docs/deploy.md); a year of agent transcripts and request logs is a cost an operator opts into.",
      );
      ack(
        c,
        "cloudwatch_log_group_encrypted_check",
        "CloudWatch Logs encrypts every log group at rest with keys it manages; no credential is logged (secrets reach containers as ECS secrets). A customer-managed key is not offered yet.",
      );
    }
    if (c instanceof ec2.CfnSubnet && c.mapPublicIpOnLaunch === true) {
      ack(
        c,
        "subnet_auto_assign_public_ip_disabled_check",
        "A public subnet of the VPC Squadron creates holds only the NAT gateway; runners and functions run in the private subnets with AssignPublicIp DISABLED.",
      );
    }
    if (c instanceof ecs.CfnTaskDefinition) {
      ack(
        c,
        "ecs_containers_readonly_access_check",
        "The agent CLIs (Claude Code, Codex, Gemini CLI, Aider) write their session state, caches and git worktrees under the container's home and /tmp; the shared workspace is the run's EFS access point.",
      );
      ack(
        c,
        "ecs_task_definition_memory_hard_limit_check",
        "Fargate enforces the task-level memory, which RunAgent sets per agent (a Fargate size); a container hard limit would have to follow every override.",
      );
    }
    if (c instanceof CfnResource && c.cfnResourceType === "AWS::Lambda::Function") {
      ack(
        c,
        "lambda_inside_vpc_check",
        "Functions that only call AWS APIs (DynamoDB, Step Functions, ECS, EFS control plane, Secrets Manager, and CDK's deploy-time providers) run outside the VPC; the api and outputs functions, which mount EFS, run in its private subnets.",
      );
    }
    if (c instanceof s3.CfnBucket) {
      ack(
        c,
        "s3_bucket_default_encryption_kms_check",
        "Encrypted with S3-managed keys (SSE-S3); access is by IAM on prefixes. A KMS key would add a key policy every reader and writer must pass, for no gain in this threat model.",
      );
      ack(
        c,
        "s3_bucket_object_lock_enabled_check",
        "Run inputs and outputs are working files that lifecycle rules expire; object lock (WORM) would keep what must be deletable.",
      );
      ack(
        c,
        "s3_event_notifications_enabled_check",
        "Nothing consumes bucket events: runs learn of outputs through the state machine, not through S3.",
      );
      if (c.loggingConfiguration === undefined) {
        ack(
          c,
          "s3_bucket_logging_enabled_check",
          "This is the access-log bucket of the workspace bucket; logging it into itself would loop.",
        );
        ack(
          c,
          "s3_bucket_versioning_enabled_check",
          "Access logs are written once and expire after a year; versions would only add copies.",
        );
      }
    }
    if (c instanceof sqs.CfnQueue) {
      ack(
        c,
        "sqs_dlq_check",
        "This queue is itself the dead-letter queue of the budget stream, deadlines and events.",
      );
    }
    if (c instanceof lambda.CfnPermission && c.principal === "apigateway.amazonaws.com") {
      ack(
        c,
        "lambda_function_public_access_prohibited_check",
        "Only API Gateway may invoke, and only from this REST API: SourceArn is the API's execute-api ARN, which names the account.",
      );
    }
  }
}
