/** Offline synth of the app for infra tests (no bundling, no asset staging, no Docker). */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "aws-cdk-lib/assertions";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import {
  type DeploymentShape,
  declaredNames,
  type EnvNeeds,
  requiredNames,
} from "../../core/control/env-names.ts";
import { buildApp } from "../../infra/app.ts";
import { HANDLER_NAMES, type HandlerName, REPO_ROOT } from "../../infra/bundling.ts";
import type { HandlerFunction } from "../../infra/constructs/handler-function.ts";
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

/** Each handler's declared environment (`environment`, derived from the dependencies it builds). */
export async function handlerEnvironments(): Promise<Record<HandlerName, EnvNeeds>> {
  const entries = await Promise.all(
    HANDLER_NAMES.map(async (name) => {
      const module = (await import(`../../lambdas/${name}/handler.ts`)) as { environment?: EnvNeeds };
      if (!module.environment) throw new Error(`lambdas/${name}/handler.ts exports no \`environment\``);
      return [name, module.environment] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<HandlerName, EnvNeeds>;
}

/** The synthesised Environment.Variables of a handler function. */
export function functionVariables(
  stack: SquadronStack,
  template: Template,
  fn: HandlerFunction,
): Record<string, unknown> {
  const id = stack.getLogicalId(fn.fn.node.defaultChild as CfnFunction);
  const resource = template.toJSON().Resources[id];
  if (!resource) throw new Error(`no resource ${id} for the ${fn.name} function`);
  return resource.Properties.Environment?.Variables ?? {};
}

/**
 * Where the stack and the handlers disagree: a variable a function's handler requires in this
 * deployment that the function does not get, or a SQUADRON_* variable it gets that its handler
 * never reads (a stale or misspelt name). Empty when they agree.
 */
export function environmentMismatches(
  stack: SquadronStack,
  template: Template,
  deployment: DeploymentShape,
  needs: Record<HandlerName, EnvNeeds>,
): string[] {
  const problems: string[] = [];
  const functions = stack.handlerFunctions();
  const names = functions.map((f) => f.name).sort();
  if (JSON.stringify(names) !== JSON.stringify([...HANDLER_NAMES].sort())) {
    problems.push(
      `the stack's functions ${names.join(", ")} are not the handlers ${HANDLER_NAMES.join(", ")}`,
    );
  }
  for (const fn of functions) {
    const variables = functionVariables(stack, template, fn);
    const handlerNeeds = needs[fn.name];
    for (const name of requiredNames(handlerNeeds, deployment)) {
      if (variables[name] === undefined) problems.push(`${fn.name}: ${name} is required but not set`);
    }
    const declared = new Set<string>(declaredNames(handlerNeeds));
    for (const name of Object.keys(variables)) {
      if (name.startsWith("SQUADRON_") && !declared.has(name)) {
        problems.push(`${fn.name}: ${name} is set but lambdas/${fn.name}/handler.ts never reads it`);
      }
    }
  }
  return problems;
}

interface Violation {
  ruleName: string;
  severity: string;
  violatingConstructs: Array<{ constructPath: string }>;
}

export const KUBECTL_ROLE_ARN = "arn:aws:iam::123456789012:role/squadron-kubectl";

/** Synth with cdk-nag: the AwsSolutions errors, and the synth error if it failed. */
export function nagSynth(config: Record<string, unknown>) {
  const outdir = mkdtempSync(join(tmpdir(), "squadron-nag-"));
  const { app, stack } = buildApp({ context: { ...OFFLINE_CONTEXT, squadron: config }, outdir });
  let failed: unknown;
  let template: Template | undefined;
  try {
    app.synth();
    template = Template.fromStack(stack);
  } catch (e) {
    failed = e;
  }
  const report = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as {
    pluginReports: Array<{ pluginName: string; violations: Violation[] }>;
  };
  const errors = report.pluginReports
    .filter((r) => r.pluginName === "AwsSolutions")
    .flatMap((r) => r.violations.filter((v) => v.severity === "error"))
    .flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} ${c.constructPath}`));
  return { failed, errors, template, stack };
}

/** A manifest property as a string, each `Ref` shown as `<LogicalId>` (JSON stays valid). */
export function renderJoin(value: unknown): string {
  if (typeof value === "string") return value;
  const o = value as Record<string, unknown>;
  if ("Ref" in o) return `<${String(o.Ref)}>`;
  if ("Fn::Join" in o) {
    const [sep, parts] = o["Fn::Join"] as [string, unknown[]];
    return parts.map(renderJoin).join(sep);
  }
  throw new Error(`renderJoin: cannot render ${JSON.stringify(value)}`);
}

/** The fenced block (json or yaml) that follows `<!-- deploy.md marker` in docs/deploy.md. */
export function deployDocBlock(marker: string, language: "json" | "yaml"): string {
  const page = readFileSync(join(REPO_ROOT, "docs", "deploy.md"), "utf8");
  const at = page.indexOf(`<!-- deploy.md ${marker}`);
  if (at < 0) throw new Error(`docs/deploy.md has no "${marker}" block`);
  const fence = "```";
  const start = page.indexOf(`${fence}${language}\n`, at);
  const end = page.indexOf(`\n${fence}`, start + 1);
  return page.slice(start + fence.length + language.length + 1, end);
}
