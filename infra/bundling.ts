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
  "outputs",
] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

export function handlerEntry(name: HandlerName): string {
  return join(REPO_ROOT, "lambdas", name, "handler.ts");
}

/**
 * Node 22 syntax (the Lambda runtime). Nothing esbuild emits for node22 is beyond Node 20, where
 * tests/bundles.test.ts loads every bundle.
 */
export const BUNDLE_TARGET = "node22";

/**
 * ESM output, minified, with the AWS SDK bundled in, not taken from the runtime: measured on this
 * machine, a tree-shaken minified bundle imports 3-5x faster than the same handler with
 * `@aws-sdk/*` external (resolved file by file), and the deployed SDK is then the version the
 * tests ran. `mainFields` prefers the SDK's ES module builds, which esbuild can tree-shake. The
 * source map is a separate file (linked, so `--enable-source-maps` finds it) without the sources'
 * text: Node parses the map when it loads the bundle, and the text would double that cost
 * (~+25 ms instead of ~+10 ms measured). The banner gives CommonJS dependencies a `require` in ESM.
 */
export const BUNDLE_SETTINGS = {
  format: "esm" as const,
  target: BUNDLE_TARGET,
  platform: "node" as const,
  minify: true,
  sourcemap: "linked" as const,
  sourcesContent: false,
  mainFields: ["module", "main"],
  externalModules: [] as string[],
  banner:
    "import { createRequire as __squadronCreateRequire } from 'node:module'; const require = __squadronCreateRequire(import.meta.url);",
};

/** NODE_OPTIONS of every function: readable stack traces from the minified bundle. */
export const LAMBDA_NODE_OPTIONS = "--enable-source-maps";

/**
 * esbuild's own options for a handler's bundle, the same settings the CDK construct passes to
 * NodejsFunction; the bench and the bundle tests build with it.
 */
export function handlerBuildOptions(name: HandlerName, outdir: string) {
  return {
    entryPoints: [handlerEntry(name)],
    bundle: true,
    outfile: join(outdir, "index.mjs"),
    format: BUNDLE_SETTINGS.format,
    target: BUNDLE_SETTINGS.target,
    platform: BUNDLE_SETTINGS.platform,
    minify: BUNDLE_SETTINGS.minify,
    sourcemap: BUNDLE_SETTINGS.sourcemap,
    sourcesContent: BUNDLE_SETTINGS.sourcesContent,
    mainFields: BUNDLE_SETTINGS.mainFields,
    external: BUNDLE_SETTINGS.externalModules,
    banner: { js: BUNDLE_SETTINGS.banner },
    logLevel: "silent" as const,
  };
}

export interface HandlerBundle {
  /** `outdir/index.mjs`; its source map is beside it. */
  file: string;
  /** Source files that contributed code, relative to the repository root. */
  inputs: string[];
}

/** Builds lambdas/<name>/handler.ts into `outdir/index.mjs` (+ `.map`). */
export async function bundleHandler(name: HandlerName, outdir: string): Promise<HandlerBundle> {
  const { build } = await import("esbuild");
  const options = handlerBuildOptions(name, outdir);
  const { metafile } = await build({ ...options, metafile: true, absWorkingDir: REPO_ROOT });
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined);
  const inputs = Object.entries(output?.inputs ?? {})
    .filter(([, use]) => use.bytesInOutput > 0)
    .map(([path]) => path);
  return { file: options.outfile, inputs };
}
