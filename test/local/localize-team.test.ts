import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseResource } from "../../core/manifest/parse.ts";
import type { AgentTeam } from "../../core/manifest/types.ts";
import {
  fileInScope,
  localizeTeam,
  resolveRepositoryUrl,
  unavailableBecause,
} from "../../local/localize-team.ts";

const team = parseResource(`
apiVersion: claude.amcheste.io/v1alpha1
kind: AgentTeam
metadata: { name: auth-refactor }
spec:
  repository: { url: "file://./.local/demo-repo", branch: main }
  lead: { prompt: "Lead." }
  teammates:
    - name: backend-api
      prompt: "Work."
      scope: { includePaths: ["src/api/auth/", "src/middleware/"] }
    - name: docs
      cli: scripted
      prompt: "Docs."
      script: [{ call: finish, args: { summary: done } }]
`) as AgentTeam;

describe("running a team on this machine", () => {
  it("simulates agents whose CLI or key is missing and says why", () => {
    const { team: local, simulated } = localizeTeam(team, "/checkout", { PATH: "/nowhere" });
    expect(local.spec.lead.cli).toBe("scripted");
    expect(local.spec.teammates[0]?.cli).toBe("scripted");
    expect(simulated.find((s) => s.agent === "lead")?.why).toMatch(
      /`claude` is not on PATH and ANTHROPIC_API_KEY/,
    );
    expect(simulated.find((s) => s.agent === "docs")?.cli).toBe("scripted");
    // The scoped teammate's default script writes and commits inside its scope.
    const script = JSON.stringify(local.spec.teammates[0]?.script);
    expect(script).toContain("src/api/auth/backend-api.md");
    // The stored team is untouched.
    expect(team.spec.lead.cli).toBe("claude");
    expect(local.spec.repository?.url).toBe("file:///checkout/.local/demo-repo");
  });

  it("keeps an agent whose CLI is on PATH and whose key is set", () => {
    const bin = mkdtempSync(join(tmpdir(), "squadron-bin-"));
    writeFileSync(join(bin, "claude"), "#!/bin/sh\n");
    chmodSync(join(bin, "claude"), 0o755);
    expect(unavailableBecause("claude", { PATH: bin, ANTHROPIC_API_KEY: "k" })).toBeUndefined();
    expect(unavailableBecause("claude", { PATH: bin })).toMatch(/ANTHROPIC_API_KEY/);
    const { team: local } = localizeTeam(team, "/checkout", { PATH: bin, ANTHROPIC_API_KEY: "k" });
    expect(local.spec.lead.cli).toBe("claude");
    rmSync(bin, { recursive: true, force: true });
  });

  it("resolves relative local repository URLs against the checkout only", () => {
    expect(resolveRepositoryUrl("file://./repo", "/c")).toBe("file:///c/repo");
    expect(resolveRepositoryUrl("file:///abs/repo", "/c")).toBe("file:///abs/repo");
    expect(resolveRepositoryUrl("./repo.git", "/c")).toBe("/c/repo.git");
    expect(resolveRepositoryUrl("git@github.com:acme/backend.git", "/c")).toBe(
      "git@github.com:acme/backend.git",
    );
    expect(resolveRepositoryUrl("https://github.com/acme/b.git", "/c")).toBe("https://github.com/acme/b.git");
  });

  it("picks a file inside the first include path", () => {
    const agent = (includePaths: string[]) =>
      ({ ...team.spec.teammates[0], name: "x", scope: { includePaths, excludePaths: [] } }) as never;
    expect(fileInScope(agent(["src/api/"]))).toBe("src/api/x.md");
    expect(fileInScope(agent(["src/**/*.ts"]))).toBe("src/x.ts");
    expect(fileInScope(agent(["hello.txt"]))).toBe("hello.txt");
    expect(fileInScope(agent(["**"]))).toBe("x.md");
  });
});
