/**
 * esbuild settings of every Lambda bundle, shared by the CDK app (NodejsFunction) and
 * bench/synth.bench.ts so the bench measures exactly what is deployed.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Handlers deployed as Lambda functions: lambdas/<name>/handler.ts exporting `handler`. */
export const HANDLER_NAMES = [
  "api",
  "prepare",
  "cleanup",
  "dependencies",
  "approvals",
  "budget",
  "deadline",
  "events",
] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

export function handlerEntry(name: HandlerName): string {
  return join(REPO_ROOT, "lambdas", name, "handler.ts");
}

export const BUNDLE_TARGET = "node22";

/**
 * ESM output with the AWS SDK bundled in, not taken from the runtime: measured on this
 * machine, a tree-shaken minified bundle imports in ~80-150 ms where the same handler with
 * `@aws-sdk/*` external (resolved file by file) takes ~400-500 ms, and the deployed SDK is
 * then the version the tests ran. The banner gives CommonJS dependencies a `require` in ESM.
 */
export const BUNDLE_SETTINGS = {
  format: "esm" as const,
  target: BUNDLE_TARGET,
  platform: "node" as const,
  minify: true,
  sourcemap: false,
  mainFields: ["module", "main"],
  externalModules: [] as string[],
  banner:
    "import { createRequire as __squadronCreateRequire } from 'node:module'; const require = __squadronCreateRequire(import.meta.url);",
};
