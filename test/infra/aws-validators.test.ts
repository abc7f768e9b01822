/**
 * AWS's own validators on what Squadron synthesises:
 * - asl-validator (the Amazon States Language schemas and JSONPath checks) on the team-run
 *   definition of every deployment shape (ECS, EKS, Slack on, an imported VPC);
 * - AWS CloudFormation Guard with the Control Tower proactive-control rules
 *   (@cdklabs/cdk-validator-cfnguard, which runs the cfn-guard binary it ships) on the whole app,
 *   where every remaining finding must be acknowledged with its reason
 *   (infra/guard-acknowledgements.ts), as cdk-nag's are.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CfnGuardValidator } from "@cdklabs/cdk-validator-cfnguard";
import aslValidator from "asl-validator";
import { Validations } from "aws-cdk-lib";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../infra/app.ts";
import { definitionFromTemplate, OFFLINE_CONTEXT, synthTemplate } from "../../state-machines/synth.ts";
import { EXISTING_VPC } from "./support.ts";

const SHAPES: Array<[string, Parameters<typeof synthTemplate>[0]]> = [
  ["ECS", { compute: "ecs" }],
  ["EKS", { compute: "eks" }],
  [
    "ECS with Slack approvals",
    { compute: "ecs", config: { slack: { enabled: true, channel: "#approvals" } } },
  ],
  ["ECS in an imported VPC", { compute: "ecs", config: { vpc: EXISTING_VPC } }],
];

describe("asl-validator accepts every synthesised definition", () => {
  it.each(SHAPES)(
    "%s",
    (_name, options) => {
      const definition = definitionFromTemplate(synthTemplate(options));
      const { isValid, errorsText } = aslValidator(definition);
      expect(isValid, errorsText()).toBe(true);
    },
    180_000,
  );
});

describe("CloudFormation Guard (Control Tower proactive controls)", () => {
  it.each([
    ["ECS in a new VPC", { runnerImageUri: "public.ecr.aws/squadron/runner:test" }],
    [
      "EKS in an imported VPC, with Slack",
      {
        compute: "eks",
        eks: { clusterName: "prod", manageKubernetesObjects: false },
        vpc: EXISTING_VPC,
        slack: { enabled: true, channel: "#approvals" },
        runnerImageUri: "public.ecr.aws/squadron/runner:test",
      },
    ],
  ])(
    "%s: every finding is acknowledged with a reason",
    (_name, config) => {
      const { app } = buildApp({
        context: { ...OFFLINE_CONTEXT, squadron: config },
        outdir: mkdtempSync(join(tmpdir(), "squadron-guard-")),
        nag: false,
      });
      Validations.of(app).addPlugins(new CfnGuardValidator());
      // Synth throws with the report when a rule fails and no acknowledgement covers it.
      expect(() => app.synth()).not.toThrow();
    },
    600_000,
  );
});
