/**
 * The handlers' environment is declared once per dependency (core/control/aws-deps.ts) and
 * derived per handler from the dependencies it builds. These checks keep the declarations
 * honest: a dependency reads exactly the variables it declares, and a handler reads nothing
 * around its dependencies. (That the stack sets them: stack.test.ts and nag.test.ts.)
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import * as awsDeps from "../../core/control/aws-deps.ts";
import { silentLogger } from "../../core/control/deps.ts";
import { declaredNames, ENV, type EnvName, mergeNeeds, requiredNames } from "../../core/control/env-names.ts";
import { HANDLER_NAMES, handlerEntry } from "../../infra/bundling.ts";
import { handlerEnvironments } from "./support.ts";

const realEnv = process.env;
afterEach(() => {
  process.env = realEnv;
});

/** A value for every variable of ENV that its consumer accepts (ARNs, a path, a list). */
const FULL_ENV: Record<EnvName, string> = {
  [ENV.table]: "squadron-table",
  [ENV.stateMachine]: "arn:aws:states:us-east-1:123456789012:stateMachine:Squadron-team-run",
  [ENV.bucket]: "squadron-bucket",
  [ENV.fileSystem]: "fs-0123456789abcdef0",
  [ENV.taskDefinition]: "arn:aws:ecs:us-east-1:123456789012:task-definition/Squadron-runner:1",
  [ENV.volume]: "team",
  [ENV.teamDir]: "/mnt/team",
  [ENV.runnerCpu]: "2048",
  [ENV.runnerMemory]: "8192",
  [ENV.runsMount]: "/mnt/runs",
  [ENV.runDirectories]: "/mnt/runs",
  [ENV.eksCluster]: "prod",
  [ENV.eksEndpoint]: "https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com",
  [ENV.eksCertificateAuthority]: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
  [ENV.eksNamespace]: "squadron",
  [ENV.deadlineTarget]: "arn:aws:lambda:us-east-1:123456789012:function:deadline",
  [ENV.deadlineRole]: "arn:aws:iam::123456789012:role/scheduler",
  [ENV.scheduleGroup]: "Squadron-deadlines",
  [ENV.teamScheduleGroup]: "Squadron-team-schedules",
  [ENV.teamSchedulerRole]: "arn:aws:iam::123456789012:role/team-scheduler",
  [ENV.slackTokenSecret]: "arn:aws:secretsmanager:us-east-1:123456789012:secret:bot-token",
  [ENV.slackSigningSecret]: "arn:aws:secretsmanager:us-east-1:123456789012:secret:signing",
  [ENV.slackChannel]: "#approvals",
  [ENV.slackApprovers]: "U1,U2",
  [ENV.webhookSecret]: "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook",
  [ENV.runnerLogGroup]: "/squadron/runner",
  [ENV.defaultTimeout]: "2h",
  [ENV.defaultBudget]: "25",
  [ENV.teamSecretPrefix]: "squadron-prod",
};

/** Builds a dependency with every variable set and returns the SQUADRON_* names it read. */
function namesRead(dependency: awsDeps.AwsDependency<unknown>): string[] {
  const read = new Set<string>();
  const values: Record<string, string | undefined> = { ...realEnv, AWS_REGION: "us-east-1", ...FULL_ENV };
  process.env = new Proxy(values, {
    get(target, name) {
      if (typeof name === "string" && name.startsWith("SQUADRON_")) read.add(name);
      return Reflect.get(target, name);
    },
  });
  try {
    dependency.make(silentLogger);
  } finally {
    process.env = realEnv;
  }
  return [...read].sort();
}

const isDependency = (value: unknown): value is awsDeps.AwsDependency<unknown> =>
  typeof value === "object" && value !== null && "env" in value && "make" in value;
const dependencies = Object.entries(awsDeps as Record<string, unknown>).flatMap(([name, value]) =>
  isDependency(value) ? [[name, value] as const] : [],
);

describe("dependency environment declarations", () => {
  it("finds the dependencies of aws-deps", () => {
    expect(dependencies.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        "awsStore",
        "awsWorkspaces",
        "awsDeadlines",
        "awsApprovalNotifier",
        "awsTeamFiles",
      ]),
    );
  });

  it.each(dependencies)("%s reads exactly the variables it declares", (_name, dependency) => {
    expect(namesRead(dependency)).toEqual(declaredNames(dependency.env).sort());
  });

  it("notices a dependency that reads an undeclared variable", () => {
    const sneaky: awsDeps.AwsDependency<string | undefined> = {
      env: { table: "always" },
      make: () => process.env[ENV.bucket],
    };
    expect(namesRead(sneaky)).not.toEqual(declaredNames(sneaky.env).sort());
  });
});

describe("handler environments", () => {
  it("are derived from the dependencies, and handlers read no variable around them", async () => {
    const needs = await handlerEnvironments();
    for (const name of HANDLER_NAMES) {
      expect(Object.keys(needs[name]).length, name).toBeGreaterThan(0);
      const source = readFileSync(handlerEntry(name), "utf8");
      expect(source, `lambdas/${name}/handler.ts`).not.toMatch(/process\.env/);
      expect(source, `lambdas/${name}/handler.ts`).toMatch(/export const environment = environmentOf\(/);
    }
    expect(needs.prepare).toMatchObject({
      table: "always",
      bucket: "always",
      teamDir: "always",
      runnerCpu: "always",
      runnerMemory: "always",
      fileSystem: "ecs",
      taskDefinition: "ecs",
      volume: "ecs",
      deadlineTarget: "always",
      deadlineRole: "always",
      scheduleGroup: "always",
    });
    expect(needs.approvals).toMatchObject({
      webhookSecret: "always",
      slackSigningSecret: "slack",
      slackTokenSecret: "slack",
      slackApprovers: "slack",
    });
    // Run-level webhooks are signed with the team's own secretRef: no stack secret for them.
    for (const name of ["budget", "deadline", "cleanup", "events", "api"] as const) {
      expect(needs[name].webhookSecret, name).toBeUndefined();
    }
  });

  it("require by deployment: ECS-only and Slack-only variables only there", () => {
    const needs = mergeNeeds(
      { table: "always", volume: "ecs" },
      { slackChannel: "slack" },
      { volume: "always" },
    );
    expect(needs).toEqual({ table: "always", volume: "always", slackChannel: "slack" });
    const workspaces = { fileSystem: "ecs", slackChannel: "slack", runsMount: "optional" } as const;
    expect(requiredNames(workspaces, { compute: "eks", slack: false })).toEqual([]);
    expect(requiredNames(workspaces, { compute: "ecs", slack: true })).toEqual([
      ENV.fileSystem,
      ENV.slackChannel,
    ]);
    expect(declaredNames(workspaces)).toEqual([ENV.fileSystem, ENV.slackChannel, ENV.runsMount]);
  });
});
