import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseManifests, parseResource } from "../../core/manifest/index.ts";

const repo = resolve(fileURLToPath(import.meta.url), "../../..");

/** The real CLI as a user runs it: a node process through bin/squadron.js. */
function squadron(args: string[], input?: string) {
  const result = spawnSync(process.execPath, ["bin/squadron.js", ...args], {
    cwd: repo,
    input,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), "squadron-cli-"));
function file(name: string, content: string): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

const BROKEN = `apiVersion: squadron.dev/v1alpha1
kind: AgentTeam
metadata:
  name: Broken
spec:
  workspace: {}
  lead:
    prompt: Lead.
  teammates:
    - name: a
      prompt: A.
      dependsOn: [b]
      mood: cheerful
    - name: b
      prompt: B.
      dependsOn: [a]
  lifecycle:
    budgetLimit: "-3"
`;

describe("squadron validate (a real process)", () => {
  it("prints a one-line verdict per file and exits 0 when every manifest is valid", () => {
    const files = ["auth-refactor", "q3-report", "hello-team"].map((name) => `examples/${name}.yaml`);
    const { code, stdout, stderr } = squadron(["validate", ...files]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.trimEnd().split("\n")).toEqual([
      "examples/auth-refactor.yaml: valid: AgentTeam dev-agents/auth-refactor",
      "examples/q3-report.yaml: valid: AgentTeam cowork-agents/q3-report",
      "examples/hello-team.yaml: valid: AgentTeam default/hello-team",
    ]);
  });

  it("prints every example normalized as YAML documents with -o yaml", () => {
    const files = ["auth-refactor", "q3-report", "hello-team"].map((name) => `examples/${name}.yaml`);
    const { code, stdout, stderr } = squadron(["validate", "-o", "yaml", ...files]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const { resources, issues } = parseManifests(stdout);
    expect(issues).toEqual([]);
    expect(resources.map((r) => r.metadata.name)).toEqual(["auth-refactor", "q3-report", "hello-team"]);
    expect(resources[0]).toStrictEqual(parseResource(readFileSync(join(repo, files[0]!), "utf8")));
  });

  it("prints JSON with -o json, and reads stdin with -", () => {
    const manifest = readFileSync(join(repo, "examples/hello-team.yaml"), "utf8");
    const { code, stdout } = squadron(["validate", "-o", "json", "-"], manifest);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toStrictEqual(parseResource(manifest));
  });

  it("lists every problem with file, line and path on stderr, the file's verdict on stdout, and exits 1", () => {
    const path = file("broken.yaml", BROKEN);
    const verdict = squadron(["validate", path]);
    expect(verdict.code).toBe(1);
    expect(verdict.stdout).toBe(`${path}: invalid: 3 errors, 1 warning\n`);
    const { code, stdout, stderr } = squadron(["validate", "-o", "yaml", path]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toEqual([
      `${path}:4: error: metadata.name: The name "Broken" is not a DNS-1123 label: use at most 63 lowercase letters, digits and "-", starting and ending with a letter or digit.`,
      `${path}:12: error: spec.teammates[0].dependsOn: Dependency cycle: a → b → a; none of these teammates could ever start.`,
      `${path}:13: warning: spec.teammates[0].mood: Unknown field "mood" is ignored.`,
      `${path}:18: error: spec.lifecycle.budgetLimit: The budget limit must be more than zero US dollars (found "-3").`,
      "3 errors; nothing printed.",
    ]);
  });

  it("reports errors from stdin too", () => {
    const { code, stderr } = squadron(["validate", "-"], "kind: Pod\n");
    expect(code).toBe(1);
    expect(stderr).toContain(
      '<stdin>:1: error: kind: The kind "Pod" is not one; use AgentTeam, AgentTeamTemplate, AgentTeamRun, AgentTeamSchedule or AgentTeamTrigger.',
    );
  });

  it("warnings alone still exit 0 and print the resource", () => {
    const path = file(
      "warn.yaml",
      BROKEN.replace("Broken", "fine").replace("[a]", "[]").replace('"-3"', '"3"'),
    );
    const { code, stdout, stderr } = squadron(["validate", "-o", "json", path]);
    expect(code).toBe(0);
    expect(stderr).toBe(`${path}:13: warning: spec.teammates[0].mood: Unknown field "mood" is ignored.\n`);
    expect(JSON.parse(stdout).metadata.name).toBe("fine");
  });

  it("checks a run merged with its template when both are given", () => {
    const run = file(
      "run.yaml",
      readFileSync(join(repo, "examples/q4-security-review-run.yaml"), "utf8").concat(
        "  lifecycle:\n    approvalGates:\n      - event: spawn-nobody\n",
      ),
    );
    const { code, stderr } = squadron(["validate", "examples/fullstack-review-template.yaml", run]);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `${run}: error: spec.lifecycle.approvalGates[0].event: merged with template "fullstack-review": The event "spawn-nobody" names no teammate`,
    );
  });

  it("explains a missing file (a usage error), and has --help", () => {
    const missing = squadron(["validate", "no-such.yaml"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("squadron: cannot read no-such.yaml: no such file\n");
    const help = squadron(["validate", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: squadron validate [options] <files...>");
    expect(help.stdout).toContain("-o, --output <format>");
  });
});
