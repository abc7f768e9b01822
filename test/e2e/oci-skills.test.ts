import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  hasRegistry,
  pushArtifact,
  REGISTRY_USER,
  type RunningRegistry,
  startRegistry,
} from "../support/oci-registry.ts";
import { envWithoutAgentKeys, startTestStack, type TestStack } from "./local-stack-harness.ts";

/**
 * kagents v0.8 skills from OCI, end to end on the local stack: a team applied through the API
 * names a skill in a private registry (a real one, distribution 2.8.2 with token authentication)
 * and the pull secret by name; the stack's SQUADRON_SECRET_<NAME> reaches the runner, whose init
 * pulls the skill; a scripted agent reads the skill's files, and cannot see the secret.
 * The skip message for a machine without docker-registry is printed by test/runner/workspace/oci-skills.test.ts.
 */
const NS = "oci-e2e";
const SKILL_MD = "# Report writing\nUse the template in templates/.\n";
const TEMPLATE = "# {{title}}\n";
const REPO = "acme-internal/skills/report-writing";

let t: TestStack;
let registry: RunningRegistry;
let dockerConfig: string;

function team(name: string, pullSecret: boolean) {
  return {
    apiVersion: "kagents.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name },
    spec: {
      workspace: { output: { mountPath: "/workspace/output" } },
      ...(pullSecret ? { imagePullSecrets: [{ name: "ghcr-creds" }] } : {}),
      lead: {
        prompt: "Write the report with the skill.",
        cli: "scripted",
        skills: [{ name: "report-writing", source: { oci: `${registry.host}/${REPO}:v3` } }],
        script: [
          // The agent's cwd is the workspace; its skills are in .claude/skills/<name>/.
          { run: ["cp", ".claude/skills/report-writing/SKILL.md", "output/skill.md"] },
          { run: ["cp", ".claude/skills/report-writing/templates/report.tmpl", "output/report.tmpl"] },
          { exec: "env > output/agent-env.txt" },
          { call: "finish", args: { summary: "used the skill" } },
        ],
      },
      lifecycle: { timeout: "10m", maxRestarts: 0, onComplete: "notify" },
    },
  };
}

beforeAll(async () => {
  if (!hasRegistry) return;
  registry = await startRegistry({ token: true });
  await pushArtifact(
    registry.host,
    REPO,
    "v3",
    [
      {
        directory: ".",
        entries: [
          { name: ".", type: "directory" },
          { name: "SKILL.md", content: SKILL_MD },
          { name: "templates", type: "directory" },
          { name: "templates/report.tmpl", content: TEMPLATE },
        ],
      },
    ],
    await registry.pushHeaders(REPO),
  );
  const auth = Buffer.from(`${REGISTRY_USER.username}:${REGISTRY_USER.password}`).toString("base64");
  dockerConfig = JSON.stringify({ auths: { [registry.host]: { auth } } });
  // Locally a named secret is the stack's variable SQUADRON_SECRET_<NAME> (docs/local.md).
  t = await startTestStack({ env: { ...envWithoutAgentKeys(), SQUADRON_SECRET_GHCR_CREDS: dockerConfig } });
}, 120_000);

afterAll(async () => {
  await t?.cleanup();
  await registry?.stop();
});

describe.skipIf(!hasRegistry)("skills from OCI on the local stack", { timeout: 120_000 }, () => {
  it("pulls the skill with the pull secret before the agent starts; the agent reads it, never the secret", async () => {
    const res = await t.api("POST", `/api/namespaces/${NS}/teams`, team("with-skill", true));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const { view } = await t.follow(NS, "with-skill");
    expect(view.phase, view.message).toBe("Completed");
    const output = join(t.stack.paths.objects, "runs", NS, "with-skill", view.runId, "output");
    expect(readFileSync(join(output, "skill.md"), "utf8")).toBe(SKILL_MD);
    expect(readFileSync(join(output, "report.tmpl"), "utf8")).toBe(TEMPLATE);
    const env = readFileSync(join(output, "agent-env.txt"), "utf8");
    expect(env).not.toContain("SQUADRON_SECRET_GHCR_CREDS");
    expect(env).not.toContain(REGISTRY_USER.password);
    expect(env).not.toContain(
      Buffer.from(`${REGISTRY_USER.username}:${REGISTRY_USER.password}`).toString("base64"),
    );
  });

  it("without imagePullSecrets the run fails at init, naming the skill and the registry's answer", async () => {
    const res = await t.api("POST", `/api/namespaces/${NS}/teams`, team("no-secret", false));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const { view } = await t.follow(NS, "no-secret");
    expect(view.phase).toBe("Failed");
    expect(view.reason).toBe("SkillPullFailed");
    expect(view.message).toBe(
      "skill report-writing (no spec.imagePullSecrets): GET manifest v3 answered 401 Unauthorized (UNAUTHORIZED: authentication required) (details: squadron logs team no-secret -n oci-e2e)",
    );
  });
});
