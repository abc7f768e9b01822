import type { CfnResource } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { ENV } from "../../core/control/env-names.ts";
import type { SquadronStack } from "../../infra/stack.ts";
import { synth } from "./support.ts";

let template: Template;
let stack: SquadronStack;

beforeAll(() => {
  ({ template, stack } = synth({ runnerImageUri: "public.ecr.aws/squadron/runner:test" }));
}, 120_000);

const TEAM_SECRETS = {
  "Fn::Join": [
    "",
    [
      "arn:",
      { Ref: "AWS::Partition" },
      ":secretsmanager:",
      { Ref: "AWS::Region" },
      ":",
      { Ref: "AWS::AccountId" },
      ":secret:squadron/*",
    ],
  ],
};

/** AgentTeamTrigger HMAC keys: a path of their own under the prefix (docs/manifests.md). */
const TRIGGER_KEYS = JSON.parse(
  JSON.stringify(TEAM_SECRETS).replace(":secret:squadron/*", ":secret:squadron/*/triggers/*"),
);

/**
 * Logical ids of the roles whose policies grant something on the team-secret prefix (or, with
 * `triggers`, on the trigger keys' path only), and what.
 */
function prefixGrants(triggers = false): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
    for (const s of policy.Properties.PolicyDocument.Statement as Array<Record<string, unknown>>) {
      const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
      if (!resources.some((r) => JSON.stringify(r).includes(":secret:squadron/"))) continue;
      const onTriggerKeys = resources.some((r) => JSON.stringify(r).includes("/triggers/*"));
      if (onTriggerKeys !== triggers) continue;
      expect(resources).toEqual([triggers ? TRIGGER_KEYS : TEAM_SECRETS]);
      for (const role of policy.Properties.Roles as Array<{ Ref: string }>) {
        out.set(role.Ref, [...(out.get(role.Ref) ?? []), s.Action]);
      }
    }
  }
  return out;
}

const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnResource);

describe("team secrets (<teamSecretPrefix>/<namespace>/<name>, squadron/ by default)", () => {
  it("lets the webhook-signing functions and the runner's execution role read the prefix, and only them", () => {
    const o = stack.orchestration.functions;
    const td = stack.compute.taskDefinition;
    if (!td) throw new Error("no task definition");
    const expected = [o.budget, o.cleanup, o.deadline, o.events, stack.approvals.handler]
      .map((f) => id(f.role))
      .concat(id(td.obtainExecutionRole()))
      .sort();
    const grants = prefixGrants();
    const prepare = id(o.prepare.role);
    expect([...grants.keys()].filter((k) => k !== prepare).sort()).toEqual(expected);
    for (const [role, actions] of grants) {
      if (role !== prepare) expect(actions).toEqual(["secretsmanager:GetSecretValue"]);
    }
  });

  it("lets Prepare only describe them (their full ARNs for the task definition), never read a value", () => {
    expect(prefixGrants().get(id(stack.orchestration.functions.prepare.role))).toEqual([
      "secretsmanager:DescribeSecret",
    ]);
  });

  it("grants and names a deployment's own prefix when teamSecretPrefix is set, and nothing under squadron/", () => {
    const prod = synth({
      runnerImageUri: "public.ecr.aws/squadron/runner:test",
      teamSecretPrefix: "squadron-prod",
    });
    const policies = JSON.stringify(prod.template.findResources("AWS::IAM::Policy"));
    expect(policies).toContain(":secret:squadron-prod/*");
    expect(policies).not.toContain(":secret:squadron/*");
    const o = prod.stack.orchestration.functions;
    const readers = [
      o.prepare,
      o.budget,
      o.cleanup,
      o.deadline,
      o.events,
      prod.stack.approvals.handler,
      prod.stack.api.handler,
    ];
    for (const f of readers) {
      const fn =
        prod.template.toJSON().Resources[prod.stack.getLogicalId(f.fn.node.defaultChild as CfnResource)];
      expect(fn.Properties.Environment.Variables[ENV.teamSecretPrefix], f.name).toBe("squadron-prod");
    }
  });

  it("lets the public api function read trigger HMAC keys only (<prefix>/*/triggers/*), and no other role that path alone", () => {
    const grants = prefixGrants(true);
    expect([...grants.keys()]).toEqual([id(stack.api.handler.role)]);
    expect(grants.get(id(stack.api.handler.role))).toEqual(["secretsmanager:GetSecretValue"]);
  });

  it("never lets the task role (the agents' code), the api or dependencies near them", () => {
    const grants = prefixGrants();
    const o = stack.orchestration.functions;
    for (const role of [stack.compute.taskRole, stack.api.handler.role, o.dependencies.role]) {
      expect(grants.has(id(role))).toBe(false);
    }
  });
});
