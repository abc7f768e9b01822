/**
 * Whole teams of a real agent CLI on the local stack (conformance point (b)): the stack runs the
 * bundled runner (`SQUADRON_RUNNER_ENTRY`, as the container image does), the pinned CLI binaries of
 * node_modules/.bin are first on PATH and the CLI's key is set, so localize-team runs the agents
 * for real (not simulated), every model call answered by the model-API stub's scripted team play.
 * Shared by claude.test.ts, codex.test.ts and gemini.test.ts.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { expect } from "vitest";
import { envWithoutAgentKeys, startTestStack, type TestStack } from "../e2e/local-stack-harness.ts";
import { bundledRunner } from "../runner/session/fixtures.ts";
import { createBareRepo, runGit } from "../support/git-fixtures.ts";
import {
  type ModelApiStub,
  type ModelApiStubOptions,
  startModelApiStub,
} from "../support/model-api-stub/server.ts";
import { readRole } from "../support/model-api-stub/team-play.ts";
import type { RecordedRequest } from "../support/model-api-stub/types.ts";
import { BIN, type CliTarget } from "./harness.ts";

export interface LocalCliTeam {
  stub: ModelApiStub;
  t: TestStack;
  /** Scratch directory (the bare repository lives under it). */
  root: string;
  bare: string;
  /** An AgentTeam manifest: lead + one teammate `dev` of this CLI, delivering to the bare repository. */
  manifest(name: string, lifecycle?: Record<string, unknown>): Record<string, unknown>;
  /** The stub's answered model calls for `agent` since request index `from`. */
  repliesOf(from: number, agent: string): RecordedRequest[];
  /** `git` in the bare repository. */
  git(...args: string[]): string;
  close(): Promise<void>;
}

export async function startLocalCliTeam(options: {
  target: CliTarget;
  stub: Omit<ModelApiStubOptions, "intercept">;
  /** The CLI's environment on top of `target.env` (e.g. codex's CODEX_HOME). */
  env?: (stub: ModelApiStub, home: string) => Record<string, string>;
}): Promise<LocalCliTeam> {
  const { target } = options;
  const stub = await startModelApiStub(options.stub);
  const root = mkdtempSync(join(tmpdir(), `squadron-${target.cli}-team-`));
  const bare = createBareRepo(root, { "README.md": `# ${target.cli} team\n` }).bare;
  const home = mkdtempSync(join(tmpdir(), `squadron-${target.cli}-home-`));
  // The pinned binaries first on PATH and the CLI's key set: localize-team runs the real CLI.
  const cliEnv = {
    ...target.env(stub, home),
    ...options.env?.(stub, home),
    PATH: `${BIN}${delimiter}${process.env.PATH ?? ""}`,
  };
  const t = await startTestStack({
    env: { ...envWithoutAgentKeys(), ...cliEnv },
    runnerEnv: { ...cliEnv, SQUADRON_RUNNER_ENTRY: join(await bundledRunner(), "entrypoint.js") },
  });
  return {
    stub,
    t,
    root,
    bare,
    manifest: (name, lifecycle = {}) => ({
      apiVersion: "squadron.dev/v1alpha1",
      kind: "AgentTeam",
      metadata: { name },
      spec: {
        repository: { url: bare, branch: "main" },
        lead: { name: "lead", cli: target.cli, model: target.model, prompt: "Have dev write dev.txt." },
        teammates: [
          { name: "dev", cli: target.cli, model: target.model, prompt: "Write dev.txt when asked." },
        ],
        lifecycle: { timeout: "10m", onComplete: "push-branch", ...lifecycle },
      },
    }),
    repliesOf: (from, agent) =>
      stub
        .replies()
        .filter(
          (r) => stub.requests.indexOf(r) >= from && readRole(r.conversation?.system ?? "")?.name === agent,
        ),
    git: (...args) => runGit(root, ["--git-dir", bare, ...args]),
    close: async () => {
      await t.cleanup();
      await stub.close();
    },
  };
}

/**
 * Point (b)'s outcome: the team `name` completed with real (not simulated) agents, and `dev.txt`
 * was committed by the teammate itself (its own identity; no `RunnerCommitted` fallback) and is
 * in the delivered branch `squadron/<name>` of the bare repository.
 */
export function expectTeammateDelivered(team: LocalCliTeam, name: string, view: any): void {
  expect(view.phase, view.message).toBe("Completed");
  expect([view.lead.phase, view.teammates[0].phase]).toEqual(["Succeeded", "Succeeded"]);
  expect([view.lead, ...view.teammates].map((a: any) => a.simulated ?? false)).toEqual([false, false]);
  const warnings = view.events.filter((e: any) => ["Simulated", "RunnerCommitted"].includes(e.reason));
  expect(warnings).toEqual([]);
  const log = team.git("log", `squadron/${name}`, "--format=%an|%s", "--", "dev.txt");
  expect(log.trim()).toBe(`dev (squadron ${name})|dev: add dev.txt`);
  expect(team.git("show", `squadron/${name}:dev.txt`)).toBe("written by dev\n");
}

/**
 * Runs team `name` to its end and checks point (b) (`expectTeammateDelivered`), and that the
 * teammate committed through the CLI's own shell tool `shellTool` (a real CLI, not the runner).
 */
export async function runTeamAndExpectDelivery(
  team: LocalCliTeam,
  name: string,
  shellTool: string,
  timeoutMs = 120_000,
): Promise<any> {
  const from = team.stub.requests.length;
  const created = await team.t.api("POST", "/api/namespaces/default/teams", team.manifest(name));
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const { view } = await team.t.follow("default", name, undefined, timeoutMs);
  expectTeammateDelivered(team, name, view);
  const shell = team.repliesOf(from, "dev").filter((r) => r.toolCall?.name === shellTool);
  expect(shell.map((r) => JSON.stringify(r.toolCall?.input)).join("\n")).toMatch(/git commit/);
  return view;
}
