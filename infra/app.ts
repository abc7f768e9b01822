/**
 * The CDK app (`npx cdk synth|deploy`, cdk.json "app"). Configuration comes from the
 * `squadron` context object (infra/config.ts, docs/deploy.md); cdk-nag AwsSolutions checks run
 * as a validation plugin (cdk-nag 3: the Aspects form crashes), failing synth on errors.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { REPO_ROOT } from "./bundling.ts";
import { CONFIG_CONTEXT_KEY, ConfigError, parseConfig, strayContextProblems } from "./config.ts";
import { SquadronStack } from "./stack.ts";

export interface BuildAppOptions {
  /** Context values (as `-c` would set), e.g. the squadron config and bundling switches. */
  context?: Record<string, unknown>;
  outdir?: string;
  /** Run cdk-nag (default true). */
  nag?: boolean;
  stackName?: string;
}

/**
 * cdk.json's context (the recommended feature flags `cdk init` writes, telemetry off). The CDK CLI
 * passes it to the app; read here as well so that tests and `npx tsx infra/app.ts` synthesise
 * the template `cdk deploy` does. Explicit context (`-c`, `options.context`) wins.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, "cdk.json"), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export function buildApp(options: BuildAppOptions = {}): { app: App; stack: SquadronStack } {
  const app = new App({ context: { ...cdkJsonContext(), ...options.context }, outdir: options.outdir });
  const stray = strayContextProblems(Object.keys(app.node.getAllContext()));
  if (stray.length > 0) {
    throw new ConfigError(`Invalid Squadron configuration in cdk.json context:\n${stray.join("\n")}`);
  }
  const config = parseConfig(app.node.tryGetContext(CONFIG_CONTEXT_KEY));
  const stack = new SquadronStack(app, options.stackName ?? "Squadron", {
    config,
    description: "Squadron: teams of AI agents on Step Functions, ECS/EKS and DynamoDB",
  });
  if (options.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  try {
    buildApp().app.synth();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}
