import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const examplesDir = join(repoRoot, "examples");
/** kagents' README manifests live beside the checkout, in ../shared/kagents-examples. */
export const kagentsDir = resolve(repoRoot, "../shared/kagents-examples");
export const hasKagents = existsSync(kagentsDir);
export const kagentsSkipReason = `kagents samples not found at ${kagentsDir}; the kagents compatibility tests are skipped`;

export function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((file) => /\.ya?ml$/.test(file))
    .sort()
    .map((file) => join(dir, file));
}

/** A small valid coding team to break one rule at a time. */
// biome-ignore lint/suspicious/noExplicitAny: the tests edit raw manifests freely, as a user would.
export function baseTeam(): Record<string, any> {
  return {
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name: "demo" },
    spec: {
      repository: { url: "https://github.com/acme/app.git" },
      lead: { prompt: "Lead the work." },
      teammates: [
        { name: "api", prompt: "Build the API." },
        { name: "web", prompt: "Build the web app.", dependsOn: ["api"] },
        { name: "qa", prompt: "Test everything.", dependsOn: ["api", "web"] },
      ],
    },
  };
}
