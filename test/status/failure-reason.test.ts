import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { humanFailure } from "../../core/status/failure-reason.ts";

/** What real git prints for a failed clone (issue 15: 8), with the paths of this machine. */
async function gitCloneError(url: string, dir: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      "git",
      ["clone", "-q", url, join(dir, "checkout")],
      { env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_SSH_COMMAND: "ssh -o BatchMode=yes" } },
      (_error, _out, stderr) => resolve(String(stderr)),
    );
  });
}

describe("failures read as short human reasons (issue 15: 8)", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("a clone of an unresolvable host is CloneFailed: could not resolve <host>", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sqd-clone-"));
    dirs.push(dir);
    const stderr = await gitCloneError("https://squadron-nowhere.invalid/acme/backend.git", dir);
    const cause = `The runner exited with code 1: Command failed: git clone\n${stderr}`;
    expect(humanFailure("States.TaskFailed", cause)).toEqual({
      reason: "CloneFailed",
      message: "could not resolve squadron-nowhere.invalid",
    });
  });

  it("a clone of a missing local repository names it without the machine's path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sqd-clone-"));
    dirs.push(dir);
    const stderr = await gitCloneError(join(dir, "no-such-repo"), dir);
    const failure = humanFailure("States.TaskFailed", stderr);
    expect(failure.reason).toBe("CloneFailed");
    expect(failure.message).not.toContain(tmpdir());
    expect(failure.message).not.toContain("\n");
  });

  it("never keeps a States.* reason, and keeps Squadron's own", () => {
    const generic = humanFailure(
      "States.TaskFailed",
      "The runner exited with code 3: /tmp/x/y/z exploded\nstack…",
    );
    expect(generic.reason).toBe("RunFailed");
    expect(generic.message).toBe("…/z exploded");
    expect(humanFailure("Denied", "gate spawn-x was denied").reason).toBe("Denied");
    const ecs = JSON.stringify({
      StoppedReason: "Essential container in task exited",
      Containers: [{ ExitCode: 1 }],
    });
    expect(humanFailure("States.TaskFailed", ecs)).toEqual({
      reason: "RunFailed",
      message: "Essential container in task exited",
    });
  });

  it("a skill not pulled from OCI is SkillPullFailed with the registry's answer, not a clone failure", () => {
    const cause =
      'The runner exited with code 1: workspace init failed: skill report-writing: pulling ghcr.io/acme/skills/report-writing:v3 with the imagePullSecret "ghcr-creds" failed: the registry\'s token service answered 401 Unauthorized (incorrect username or password)';
    expect(humanFailure("States.TaskFailed", cause)).toEqual({
      reason: "SkillPullFailed",
      message:
        'skill report-writing (with the imagePullSecret "ghcr-creds"): the registry\'s token service answered 401 Unauthorized (incorrect username or password)',
    });
  });
});
