/**
 * What the AWS-contract review found in the template (issue 11), each checked where it shows:
 * recommended feature flags, the stream filter, the account-wide API Gateway role, the alarm on
 * unreleased run resources, the file-system policy, and context keys Squadron would ignore. How
 * AWS evaluates the policies is test/infra/iam-evaluation.test.ts.
 */
import { readFileSync } from "node:fs";
import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { RESOURCE_CLEANUP_FAILURES_METRIC } from "../../core/control/cleanup-failures.ts";
import { buildApp, cdkJsonContext } from "../../infra/app.ts";
import { ConfigError } from "../../infra/config.ts";
import { OFFLINE_CONTEXT } from "../../state-machines/synth.ts";
import { synth } from "./support.ts";

let template: Template;
beforeAll(() => {
  ({ template } = synth({ runnerImageUri: "public.ecr.aws/squadron/runner:test" }));
}, 120_000);

describe("feature flags", () => {
  it("cdk.json sets every flag aws-cdk-lib recommends, with the recommended value (what cdk init writes)", () => {
    const recommended = JSON.parse(
      readFileSync("node_modules/aws-cdk-lib/recommended-feature-flags.json", "utf8"),
    ) as Record<string, unknown>;
    const context = cdkJsonContext();
    const differing = Object.entries(recommended)
      .filter(([flag, value]) => JSON.stringify(context[flag]) !== JSON.stringify(value))
      .map(([flag]) => flag);
    expect(differing).toEqual([]);
  });

  it("the new VPC's default security group allows nothing (@aws-cdk/aws-ec2:restrictDefaultSecurityGroup)", () => {
    expect(Object.keys(template.findResources("Custom::VpcRestrictDefaultSG"))).toHaveLength(1);
  });
});

describe("context Squadron would silently ignore", () => {
  const build = (context: Record<string, unknown>) => () =>
    buildApp({ context: { ...OFFLINE_CONTEXT, ...context }, nag: false });

  it.each([
    [{ compute: "eks" }, "squadron.compute"],
    [{ "squadron.compute": "eks" }, "squadron.compute"],
    [{ RunnerImageUri: "x" }, "squadron.runnerImageUri"],
  ])("fails synth on %j, naming %s", (context, spelling) => {
    expect(build(context)).toThrow(ConfigError);
    expect(build(context)).toThrow(spelling);
  });

  it("names the options when a squadron.* key is no option at all", () => {
    expect(build({ "squadron.computee": "eks" })).toThrow(/"computee" is not a Squadron option/);
  });

  it("leaves other context alone", () => {
    expect(build({ "some-other-tool:setting": true })).not.toThrow();
  });
});

describe("the template", () => {
  it("filters the budget stream mapping to run items", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FilterCriteria: {
        Filters: [{ Pattern: JSON.stringify({ dynamodb: { Keys: { sk: { S: ["RUN"] } } } }) }],
      },
    });
  });

  it("never deletes the account-wide API Gateway logging role or setting", () => {
    const account = Object.values(template.findResources("AWS::ApiGateway::Account"));
    expect(account).toHaveLength(1);
    expect(account[0]?.DeletionPolicy).toBe("Retain");
    const roleId = (
      (account[0]?.Properties.CloudWatchRoleArn ?? { "Fn::GetAtt": ["", ""] }) as {
        "Fn::GetAtt": [string, string];
      }
    )["Fn::GetAtt"][0];
    expect(template.toJSON().Resources[roleId].DeletionPolicy).toBe("Retain");
  });

  it("writes its own EFS file-system policy, which allows nobody anything (each role's grant decides)", () => {
    const fs = Object.values(template.findResources("AWS::EFS::FileSystem"))[0];
    const statements = fs?.Properties.FileSystemPolicy.Statement as Array<{ Effect: string }>;
    expect(statements.filter((s) => s.Effect === "Allow")).toEqual([]);
    expect(statements.some((s) => s.Effect === "Deny")).toBe(true);
  });

  it("alarms on runs whose resources could not be released, by the dimensions Powertools writes", () => {
    const alarm = Object.values(template.findResources("AWS::CloudWatch::Alarm")).find((a) =>
      JSON.stringify(a).includes(RESOURCE_CLEANUP_FAILURES_METRIC),
    );
    const metrics = (
      (alarm?.Properties.Metrics ?? []) as Array<{ MetricStat?: { Metric: Record<string, unknown> } }>
    )
      .map((m) => m.MetricStat?.Metric)
      .filter(Boolean);
    expect(metrics).toEqual(
      ["cleanup", "events"].map((service) => ({
        Namespace: "Squadron",
        MetricName: RESOURCE_CLEANUP_FAILURES_METRIC,
        Dimensions: [{ Name: "service", Value: service }],
      })),
    );
    expect(alarm?.Properties.AlarmActions).toHaveLength(1);
  });
});
