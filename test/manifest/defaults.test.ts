/**
 * A deployment's default timeout and budget (ManifestOptions.defaults) fill only what a manifest
 * leaves out, for teams, templates, runs (and their merge) and task teams alike.
 */
import { describe, expect, it } from "vitest";
import {
  type AgentTeam,
  type AgentTeamRun,
  type AgentTeamTemplate,
  checkManifestDefaults,
  ManifestOptionsError,
  mergeTemplateRun,
  normalizeResource,
  parseManifestDefaults,
  parseTeam,
  teamFromTask,
} from "../../core/manifest/index.ts";
import { baseTeam } from "./fixtures.ts";

const defaults = { timeout: "90m", budgetLimit: 12.5 };

function team(lifecycle?: Record<string, unknown>): Record<string, unknown> {
  const manifest = baseTeam();
  if (lifecycle) manifest.spec.lifecycle = lifecycle;
  return manifest;
}

const templateManifest = (lifecycle?: Record<string, unknown>) => ({
  apiVersion: "squadron.dev/v1alpha1",
  kind: "AgentTeamTemplate",
  metadata: { name: "review" },
  spec: { teammates: [{ name: "docs", prompt: "Review docs." }], ...(lifecycle ? { lifecycle } : {}) },
});

const runManifest = (lifecycle?: Record<string, unknown>) => ({
  apiVersion: "squadron.dev/v1alpha1",
  kind: "AgentTeamRun",
  metadata: { name: "review-1" },
  spec: {
    templateRef: { name: "review" },
    workspace: {},
    lead: { prompt: "Review it." },
    ...(lifecycle ? { lifecycle } : {}),
  },
});

describe("a team", () => {
  it("gets the deployment's timeout and budget when its manifest sets neither", () => {
    const { lifecycle } = (normalizeResource(team(), { defaults }) as AgentTeam).spec;
    expect(lifecycle).toMatchObject({ timeout: "90m", timeoutSeconds: 5400, budgetLimit: 12.5 });
  });

  it("gets them in a lifecycle that sets other things only", () => {
    const { lifecycle } = (normalizeResource(team({ onComplete: "create-pr" }), { defaults }) as AgentTeam)
      .spec;
    expect(lifecycle).toMatchObject({ timeout: "90m", timeoutSeconds: 5400, budgetLimit: 12.5 });
    expect(lifecycle.onComplete).toBe("create-pr");
  });

  it("keeps its own timeout and budget, even when they equal kagents' defaults", () => {
    const { lifecycle } = (
      normalizeResource(team({ timeout: "4h", budgetLimit: "30.00" }), { defaults }) as AgentTeam
    ).spec;
    expect(lifecycle).toMatchObject({ timeout: "4h", timeoutSeconds: 14400, budgetLimit: 30 });
  });

  it("keeps a timeout given in seconds", () => {
    const { lifecycle } = (normalizeResource(team({ timeoutSeconds: 600 }), { defaults }) as AgentTeam).spec;
    expect(lifecycle).toMatchObject({ timeout: "10m", timeoutSeconds: 600, budgetLimit: 12.5 });
  });

  it("takes each default on its own: a budget-only default leaves kagents' 4h", () => {
    const { lifecycle } = (
      normalizeResource(team({ timeout: "2h" }), { defaults: { budgetLimit: 5 } }) as AgentTeam
    ).spec;
    expect(lifecycle).toMatchObject({ timeout: "2h", budgetLimit: 5 });
    const bare = (normalizeResource(team(), { defaults: { budgetLimit: 5 } }) as AgentTeam).spec.lifecycle;
    expect(bare).toMatchObject({ timeout: "4h", timeoutSeconds: 14400, budgetLimit: 5 });
    const timeoutOnly = (normalizeResource(team(), { defaults: { timeout: "30m" } }) as AgentTeam).spec
      .lifecycle;
    expect(timeoutOnly.timeout).toBe("30m");
    expect(timeoutOnly.budgetLimit).toBeUndefined();
  });

  it("is unchanged without defaults: 4h and no budget", () => {
    const { lifecycle } = (normalizeResource(team()) as AgentTeam).spec;
    expect(lifecycle.timeout).toBe("4h");
    expect(lifecycle).not.toHaveProperty("budgetLimit");
  });

  it("parsed from YAML text gets them too", () => {
    const yaml = [
      "apiVersion: claude.amcheste.io/v1alpha1",
      "kind: AgentTeam",
      "metadata: {name: yaml-team}",
      "spec:",
      "  workspace: {}",
      "  lead: {prompt: Do it.}",
      "  lifecycle: {budgetLimit: '3.00'}",
    ].join("\n");
    expect(parseTeam(yaml, { defaults }).spec.lifecycle).toMatchObject({ timeout: "90m", budgetLimit: 3 });
  });
});

describe("templates and runs", () => {
  it("a template without a lifecycle gets the defaults; one with its own keeps them", () => {
    const bare = normalizeResource(templateManifest(), { defaults }) as AgentTeamTemplate;
    expect(bare.spec.lifecycle).toMatchObject({ timeout: "90m", budgetLimit: 12.5 });
    const own = normalizeResource(templateManifest({ timeout: "1h", budgetLimit: 2 }), {
      defaults,
    }) as AgentTeamTemplate;
    expect(own.spec.lifecycle).toMatchObject({ timeout: "1h", budgetLimit: 2 });
  });

  it("a run without a lifecycle keeps none, so the template's applies whole at the merge", () => {
    const run = normalizeResource(runManifest(), { defaults }) as AgentTeamRun;
    expect(run.spec.lifecycle).toBeUndefined();
    const template = normalizeResource(templateManifest({ timeout: "1h", onComplete: "none" }), {
      defaults,
    }) as AgentTeamTemplate;
    const merged = mergeTemplateRun(template, run, { defaults });
    expect(merged.spec.lifecycle).toMatchObject({ timeout: "1h", onComplete: "none", budgetLimit: 12.5 });
  });

  it("a run's own lifecycle gets the defaults it omits and replaces the template's", () => {
    const run = normalizeResource(runManifest({ budgetLimit: 7 }), { defaults }) as AgentTeamRun;
    expect(run.spec.lifecycle).toMatchObject({ timeout: "90m", budgetLimit: 7 });
    const template = normalizeResource(templateManifest({ timeout: "1h" })) as AgentTeamTemplate;
    const merged = mergeTemplateRun(template, run, { defaults });
    expect(merged.spec.lifecycle).toMatchObject({ timeout: "90m", timeoutSeconds: 5400, budgetLimit: 7 });
  });

  it("the merge adds the default budget to a template stored before there was one", () => {
    const template = normalizeResource(templateManifest({ timeout: "1h" })) as AgentTeamTemplate;
    const run = normalizeResource(runManifest()) as AgentTeamRun;
    expect(mergeTemplateRun(template, run).spec.lifecycle.budgetLimit).toBeUndefined();
    expect(mergeTemplateRun(template, run, { defaults }).spec.lifecycle).toMatchObject({
      timeout: "1h",
      budgetLimit: 12.5,
    });
  });
});

describe("a task team", () => {
  it("gets the defaults when the task sets no timeout or budget", () => {
    expect(teamFromTask("Fix it.", { defaults }).spec.lifecycle).toMatchObject({
      timeout: "90m",
      timeoutSeconds: 5400,
      budgetLimit: 12.5,
    });
  });

  it("keeps the task's own timeout and budget", () => {
    const { lifecycle } = teamFromTask("Fix it.", { defaults, timeout: "20m", budgetLimit: "1.50" }).spec;
    expect(lifecycle).toMatchObject({ timeout: "20m", timeoutSeconds: 1200, budgetLimit: 1.5 });
    expect(teamFromTask("Fix it.", { defaults, budgetLimit: 2 }).spec.lifecycle).toMatchObject({
      timeout: "90m",
      budgetLimit: 2,
    });
  });
});

describe("invalid defaults", () => {
  it("are refused before any manifest is read, naming each bad value", () => {
    const bad = { timeout: "soon", budgetLimit: -1 };
    expect(() => normalizeResource(team(), { defaults: bad })).toThrow(ManifestOptionsError);
    expect(() => teamFromTask("Fix it.", { defaults: bad })).toThrow(
      /defaults\.timeout: "soon" is not a timeout[\s\S]*defaults\.budgetLimit: -1 is not a budget/,
    );
    expect(() => checkManifestDefaults({ timeout: "0s" })).toThrow(/"0s" is not a timeout/);
    expect(() => checkManifestDefaults({ budgetLimit: Number.NaN })).toThrow(/NaN is not a budget/);
    expect(() => checkManifestDefaults({ budgetLimit: "5" as unknown as number })).toThrow(
      /"5" is not a budget/,
    );
  });

  it("given as text are parsed and named by where they came from", () => {
    const labels = { timeout: "--default-timeout", budgetLimit: "--default-budget" };
    expect(parseManifestDefaults({ timeout: " 2h ", budgetLimit: "12.50" }, labels)).toEqual({
      timeout: "2h",
      budgetLimit: 12.5,
    });
    expect(parseManifestDefaults({ timeout: "", budgetLimit: "  " }, labels)).toEqual({});
    expect(parseManifestDefaults({}, labels)).toEqual({});
    expect(() => parseManifestDefaults({ timeout: "1d", budgetLimit: "ten" }, labels)).toThrow(
      /--default-budget: "ten" is not a number of US dollars[\s\S]*--default-timeout: "1d" is not a timeout/,
    );
    expect(() => parseManifestDefaults({ budgetLimit: "0" }, labels)).toThrow(
      /--default-budget: 0 is not a budget; give a number of US dollars greater than zero/,
    );
  });
});
