/**
 * Read access to the teams' named secrets (`<teamSecretPrefix>/<namespace>/<name>`, core/control/
 * team-secrets.ts): the deployment's prefix only, never its own secrets, another deployment's
 * team secrets (given each its own prefix) or anyone else's.
 */
import { ArnFormat, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type { IConstruct } from "constructs";

/**
 * The ARN pattern of every team secret. The trailing `*` also covers the 6-character suffix
 * (`-??????`) Secrets Manager appends to each secret's ARN.
 */
export function teamSecretsArn(scope: IConstruct, prefix: string): string {
  return Stack.of(scope).formatArn({
    service: "secretsmanager",
    resource: "secret",
    resourceName: `${prefix}/*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Lets `principal` read team secrets (GetSecretValue on the prefix). */
export function grantTeamSecrets(principal: iam.IGrantable & IConstruct, prefix: string): void {
  iam.Grant.addToPrincipal({
    grantee: principal,
    actions: ["secretsmanager:GetSecretValue"],
    resourceArns: [teamSecretsArn(principal, prefix)],
  });
}

/**
 * Lets `principal` describe team secrets (DescribeSecret: metadata, not values), for Prepare to
 * put their full ARNs in the runner's task definition.
 */
export function grantDescribeTeamSecrets(principal: iam.IGrantable & IConstruct, prefix: string): void {
  iam.Grant.addToPrincipal({
    grantee: principal,
    actions: ["secretsmanager:DescribeSecret"],
    resourceArns: [teamSecretsArn(principal, prefix)],
  });
}

/**
 * Lets `principal` read the trigger HMAC keys only (`<prefix>/<namespace>/triggers/<name>`,
 * core/triggers/trigger-secrets.ts): team secret names hold no "/", so this never covers one.
 */
export function grantTriggerSecrets(principal: iam.IGrantable & IConstruct, prefix: string): void {
  iam.Grant.addToPrincipal({
    grantee: principal,
    actions: ["secretsmanager:GetSecretValue"],
    resourceArns: [triggerSecretsArn(principal, prefix)],
  });
}

export function triggerSecretsArn(scope: IConstruct, prefix: string): string {
  return Stack.of(scope).formatArn({
    service: "secretsmanager",
    resource: "secret",
    resourceName: `${prefix}/*/triggers/*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
