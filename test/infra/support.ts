/** Offline synth of the app for infra tests (no bundling, no asset staging, no Docker). */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import { buildApp } from "../../infra/app.ts";
import type { SquadronStack } from "../../infra/stack.ts";
import { OFFLINE_CONTEXT } from "../../state-machines/synth.ts";

export const EXISTING_VPC = {
  vpcId: "vpc-0abc1234abcd12345",
  privateSubnetIds: ["subnet-0abc1234abcd12345", "subnet-0abc1234abcd12346"],
  availabilityZones: ["us-east-1a", "us-east-1b"],
};

export function synth(
  config: Record<string, unknown>,
  nag = false,
): { stack: SquadronStack; template: Template } {
  const { stack } = buildApp({
    context: { ...OFFLINE_CONTEXT, squadron: config },
    outdir: mkdtempSync(join(tmpdir(), "squadron-infra-")),
    nag,
  });
  return { stack, template: Template.fromStack(stack) };
}

/** Every statement of every IAM policy attached to a role whose logical id starts with `prefix`. */
export function statementsOf(template: Template, rolePrefix: string): Array<Record<string, unknown>> {
  const policies = template.findResources("AWS::IAM::Policy");
  const out: Array<Record<string, unknown>> = [];
  for (const p of Object.values(policies)) {
    const roles = JSON.stringify(p.Properties.Roles);
    if (!roles.includes(`"${rolePrefix}`)) continue;
    out.push(...(p.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>));
  }
  return out;
}
