import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  formatDuration,
  ManifestError,
  parseDuration,
  parseManifests,
  parseResource,
  parseTeam,
  serializeResource,
  serializeResources,
  tryParseDuration,
} from "../../core/manifest/index.ts";
import { examplesDir, yamlFiles } from "./fixtures.ts";

const TEAM = `apiVersion: squadron.dev/v1alpha1
kind: AgentTeam
metadata:
  name: one
spec:
  workspace: {}
  lead:
    prompt: Do it.
  teammates:
    - name: helper
      prompt: Help.
      dependsOn: [nobody]
`;

describe("parseManifests", () => {
  it("reads several YAML documents, skipping empty ones, and locates issues by document and line", () => {
    const text = `${TEAM}---\n${TEAM.replace("name: one", "name: two").replace("[nobody]", "[]")}---\n`;
    const { resources, issues } = parseManifests(text);
    expect(resources.map((r) => r.metadata.name)).toEqual(["two"]);
    expect(issues).toEqual([
      {
        path: "spec.teammates[0].dependsOn[0]",
        message: '"nobody" names no teammate of this team (teammates: helper).',
        severity: "error",
        document: 0,
        line: 12,
        column: 19,
      },
    ]);
  });

  it("reads JSON, including a list of resources, and JSON that YAML refuses (tab indentation)", () => {
    const one = JSON.parse(serializeResource(parseResource(TEAM.replace("[nobody]", "[]")), "json"));
    expect(parseManifests(JSON.stringify([one, { ...one, metadata: { name: "b" } }])).resources).toHaveLength(
      2,
    );
    const tabbed = JSON.stringify(one, null, "\t");
    expect(parseManifests(tabbed)).toMatchObject({ issues: [], resources: [{ metadata: { name: "one" } }] });
  });

  it("reports YAML syntax errors with their line, and empty input", () => {
    const { resources, issues } = parseManifests("kind: AgentTeam\nmetadata:\n  name: [unclosed\n");
    expect(resources).toEqual([]);
    expect(issues[0]).toMatchObject({ path: "", severity: "error" });
    expect(issues[0]?.message).toMatch(/^The text is not valid YAML or JSON: /);
    expect(issues[0]?.line).toBeGreaterThan(0);
    expect(parseManifests("  \n").issues).toEqual([
      { path: "", message: "The input holds no manifest.", severity: "error" },
    ]);
    expect(parseManifests("a: 1\na: 2\n").issues[0]?.message).toContain("unique");
  });

  it("refuses YAML alias bombs with an issue, not a crash", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 8; i++)
      bomb.push(
        `${"bcdefghij"[i]}: &${"bcdefghij"[i]} [${Array(10).fill(`*${"abcdefghij"[i]}`).join(", ")}]`,
      );
    const { issues } = parseManifests(bomb.join("\n"));
    expect(issues[0]?.message).toMatch(/^The YAML cannot be read: /);
  });

  it("parseTeam throws ManifestError for the wrong kind and for invalid text", () => {
    const run = readFileSync(`${examplesDir}/q4-security-review-run.yaml`, "utf8");
    expect(() => parseTeam(run)).toThrow(ManifestError);
    expect(() => parseTeam(run)).toThrow(/Expected an AgentTeam but found an AgentTeamRun; merge it/);
    expect(() => parseTeam(TEAM)).toThrow(/names no teammate/);
  });
});

describe("serialization", () => {
  it.each(yamlFiles(examplesDir).map((file) => [file]))("%s: parse → serialize → parse is equal", (file) => {
    const resource = parseResource(readFileSync(file, "utf8"));
    for (const format of ["yaml", "json"] as const) {
      expect(parseResource(serializeResource(resource, format))).toStrictEqual(resource);
    }
  });

  it("serializes many resources as YAML documents or a JSON list", () => {
    const resources = yamlFiles(examplesDir).map((file) => parseResource(readFileSync(file, "utf8")));
    for (const format of ["yaml", "json"] as const) {
      expect(parseManifests(serializeResources(resources, format))).toStrictEqual({ resources, issues: [] });
    }
  });
});

describe("durations", () => {
  it.each([
    ["2h", 7200],
    ["90m", 5400],
    ["1h30m", 5400],
    ["45s", 45],
    ["1h0m30s", 3630],
    ["1.5h", 5400],
  ])("%s is %i seconds", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "2", "2 h", "h", "1d", "30m1h", "1h1h", "-1h", "1hour"])("%j is not a duration", (text) => {
    expect(tryParseDuration(text)).toBeUndefined();
    expect(() => parseDuration(text)).toThrow(ManifestError);
  });

  it("formats seconds back to the shortest text", () => {
    expect([7200, 5400, 45, 3630, 0].map(formatDuration)).toEqual(["2h", "1h30m", "45s", "1h30s", "0s"]);
  });

  it("a team given only timeoutSeconds gets a matching timeout text", () => {
    const team = parseTeam(TEAM.replace("[nobody]", "[]").concat("  lifecycle:\n    timeoutSeconds: 5400\n"));
    expect(team.spec.lifecycle).toMatchObject({ timeout: "1h30m", timeoutSeconds: 5400 });
  });
});
