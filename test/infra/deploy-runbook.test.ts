/**
 * Deployment runbook: docs/deploy.md cannot drift from the app. Every configuration it shows (a
 * cdk.json `context.squadron` block, or `-c squadron='…'` on a command line) parses and
 * synthesizes offline (no Docker, no credentials); the configuration table names exactly the
 * keys the schema has; the error format it promises is the one synth prints; the `npx cdk` and
 * `npx squadron` commands it shows exist.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configSchema, parseConfig } from "../../infra/config.ts";
import { synth } from "./support.ts";

const DOC = readFileSync(new URL("../../docs/deploy.md", import.meta.url), "utf8");

/** Fenced blocks of a language: [language, body]. */
function blocks(language: string): string[] {
  return [...DOC.matchAll(/```(\w+)\n([\s\S]*?)```/g)]
    .filter((m) => m[1] === language)
    .map((m) => m[2] as string);
}

/** Every configuration the document shows, with where it is. */
function documentedConfigs(): Array<{ where: string; config: Record<string, unknown> }> {
  const out: Array<{ where: string; config: Record<string, unknown> }> = [];
  for (const body of blocks("json")) {
    const parsed = JSON.parse(body) as { context?: { squadron?: Record<string, unknown> } };
    if (parsed.context?.squadron)
      out.push({ where: `cdk.json block ${body.trim().slice(0, 60)}…`, config: parsed.context.squadron });
  }
  for (const m of DOC.matchAll(/-c squadron='([^']+)'/g)) {
    out.push({
      where: `-c squadron='${m[1]}'`,
      config: JSON.parse(m[1] as string) as Record<string, unknown>,
    });
  }
  return out;
}

describe("docs/deploy.md", () => {
  const configs = documentedConfigs();

  it("shows configurations in both forms (cdk.json context and -c)", () => {
    expect(configs.filter((c) => c.where.startsWith("cdk.json")).length).toBeGreaterThanOrEqual(2);
    expect(configs.filter((c) => c.where.startsWith("-c")).length).toBeGreaterThanOrEqual(2);
  });

  for (const { where, config } of documentedConfigs()) {
    it(`synthesizes offline: ${where}`, () => {
      expect(() => parseConfig(config)).not.toThrow();
      const { template } = synth(config);
      expect(Object.keys(template.findResources("AWS::StepFunctions::StateMachine"))).toHaveLength(1);
      if (config.runnerImageBuild === "codebuild") {
        // Built in the account: a deploy-time build, no Docker image asset for the CLI to build.
        expect(Object.keys(template.findResources("Custom::CDKContainerImageBuild"))).toHaveLength(1);
        const defs = template.findResources("AWS::ECS::TaskDefinition");
        expect(JSON.stringify(defs)).toContain("ImageTag");
        expect(JSON.stringify(defs)).not.toContain("cdk-hnb659fds-container-assets");
      }
      if (typeof config.runnerImageUri === "string") {
        expect(JSON.stringify(template.findResources("AWS::ECS::TaskDefinition"))).toContain(
          config.runnerImageUri,
        );
      }
    }, 180_000); // the first synth in a worker loads and compiles all of aws-cdk-lib
  }

  it("the configuration table lists exactly the schema's keys", () => {
    const table = DOC.slice(DOC.indexOf("| Key | Default | Meaning |"));
    const rows = table.slice(0, table.indexOf("\n\n")).split("\n").slice(2);
    const documented = new Set(
      rows.flatMap((row) =>
        [...(row.split("|")[1] ?? "").matchAll(/`([\w.]+)`/g)].map(
          (m) => (m[1] as string).split(".")[0] as string,
        ),
      ),
    );
    const schemaKeys = Object.keys(
      (configSchema as unknown as { in?: { shape: object }; shape?: object }).in?.shape ??
        (configSchema as unknown as { shape: object }).shape,
    );
    expect(schemaKeys.length).toBeGreaterThan(20);
    expect([...documented].sort()).toEqual([...schemaKeys].sort());
  });

  it("synth errors name the key as the document says", () => {
    expect(DOC).toContain("(`squadron.runnerCpu: must be one of …`)");
    expect(() => parseConfig({ runnerCpu: 3 })).toThrow(/squadron\.runnerCpu: must be one of /);
    expect(() => parseConfig({ runnerImageBuild: "podman" })).toThrow(/squadron\.runnerImageBuild: /);
  });

  it("the commands it shows exist: cdk subcommands, the squadron CLI's commands", () => {
    const shell = blocks("sh").join("\n");
    const cdk = [...shell.matchAll(/npx cdk (\w+)/g)].map((m) => m[1]);
    expect(cdk.length).toBeGreaterThan(2);
    for (const sub of cdk) expect(["bootstrap", "synth", "deploy", "destroy", "diff"]).toContain(sub);
    const cliCommands = new Set(
      readdirSync(new URL("../../cli/commands/", import.meta.url))
        .filter((f) => f.endsWith(".ts"))
        .flatMap((f) =>
          [
            ...readFileSync(new URL(`../../cli/commands/${f}`, import.meta.url), "utf8").matchAll(
              /\.command\("(\w+)/g,
            ),
          ].map((m) => m[1]),
        ),
    );
    const squadron = [...DOC.matchAll(/npx squadron (\w+)/g)].map((m) => m[1] as string);
    expect(squadron.length).toBeGreaterThan(2);
    for (const command of squadron) expect([...cliCommands], command).toContain(command);
    const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
      app: string;
    };
    expect(cdkJson.app).toBe("npx tsx infra/app.ts");
  });
});
