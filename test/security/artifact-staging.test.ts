/**
 * The file side of kagents v0.8 artifact routing (core/run-files/artifacts.ts) against real files:
 * a producer's output is checked and staged only as a regular file reached through real
 * directories of its working directory. Agents shape everything under a run, links included, so
 * a link at the output, at a directory on its way, or at the consumer's mount path must never
 * move another run's bytes into this one (or this run's bytes anywhere else).
 */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ArtifactError,
  checkOutputs,
  releaseStagedDirs,
  STAGED_DIR_MODE,
  STAGED_FILE_MODE,
  stageArtifact,
} from "../../core/run-files/artifacts.ts";

let root: string;
let workspace: string;
let otherRun: string;
const SECRET = "another run's numbers\n";
const input = { from: "researcher", artifact: "findings.md", mountPath: "/workspace/stage/research" };
const output = { path: "/workspace/output/findings.md" };

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "squadron-artifacts-"));
  workspace = join(root, "runs", "this-run", "workspace");
  otherRun = join(root, "runs", "other-run", "workspace", "output");
  mkdirSync(join(workspace, "output"), { recursive: true });
  mkdirSync(otherRun, { recursive: true });
  writeFileSync(join(otherRun, "findings.md"), SECRET);
});

afterEach(() => {
  chmodSync(join(workspace), 0o755);
  try {
    chmodSync(join(workspace, "stage", "research"), 0o755);
  } catch {}
  rmSync(root, { recursive: true, force: true });
});

const stage = () => stageArtifact({ producerWorkdir: workspace, output, consumerWorkdir: workspace, input });

describe("checking a producer's declared outputs", () => {
  it("measures present outputs and says why each missing one is missing", async () => {
    writeFileSync(join(workspace, "output", "findings.md"), "12345");
    mkdirSync(join(workspace, "output", "dir.md"));
    symlinkSync(join(otherRun, "findings.md"), join(workspace, "output", "linked.md"));
    const result = await checkOutputs(workspace, [
      output,
      { path: "output/absent.md" },
      { path: "/workspace/output/dir.md" },
      { path: "/workspace/output/linked.md" },
    ]);
    expect(result.found).toEqual([{ output, size: 5 }]);
    expect(result.missing).toEqual([
      "output/absent.md does not exist",
      "/workspace/output/dir.md is not a regular file",
      "/workspace/output/linked.md is a symbolic link; artifacts must be regular files (links are not followed)",
    ]);
  });

  it("refuses an output reached through a linked directory", async () => {
    rmSync(join(workspace, "output"), { recursive: true });
    symlinkSync(otherRun, join(workspace, "output"));
    const result = await checkOutputs(workspace, [output]);
    expect(result.found).toEqual([]);
    expect(result.missing[0]).toMatch(/symbolic link/);
  });
});

describe("staging an artifact for its consumer", () => {
  it("copies the bytes to {mountPath}/{artifact}, the file 0444 and its directory 0555, and restages over a copy", async () => {
    const content = "x".repeat(200_000); // more than one copy buffer
    writeFileSync(join(workspace, "output", "findings.md"), content);
    const staged = await stage();
    const file = join(workspace, "stage", "research", "findings.md");
    expect(staged).toEqual({ file, size: 200_000 });
    expect(readFileSync(file, "utf8")).toBe(content);
    expect(statSync(file).mode & 0o777).toBe(STAGED_FILE_MODE);
    expect(statSync(join(workspace, "stage", "research")).mode & 0o777).toBe(STAGED_DIR_MODE);

    // A restarted consumer is staged again (over its read-only copy); then released.
    writeFileSync(join(workspace, "output", "findings.md"), "v2");
    await stage();
    expect(readFileSync(file, "utf8")).toBe("v2");
    await releaseStagedDirs(workspace, [input]);
    expect(statSync(join(workspace, "stage", "research")).mode & 0o777).toBe(0o755);
  });

  it("never stages another run's file through a link the producer made its output", async () => {
    symlinkSync(join(otherRun, "findings.md"), join(workspace, "output", "findings.md"));
    await expect(stage()).rejects.toThrow(ArtifactError);
    await expect(stage()).rejects.toThrow(/symbolic link/);
    expect(() => statSync(join(workspace, "stage", "research", "findings.md"))).toThrow();
  });

  it("never stages through a linked directory swapped in after the producer's check", async () => {
    writeFileSync(join(workspace, "output", "findings.md"), "mine");
    expect((await checkOutputs(workspace, [output])).missing).toEqual([]);
    rmSync(join(workspace, "output"), { recursive: true });
    symlinkSync(otherRun, join(workspace, "output"));
    await expect(stage()).rejects.toThrow(/symbolic link/);
  });

  it("never writes through a link planted at the consumer's mount path", async () => {
    writeFileSync(join(workspace, "output", "findings.md"), "mine");
    mkdirSync(join(workspace, "stage"));
    symlinkSync(otherRun, join(workspace, "stage", "research"));
    await expect(stage()).rejects.toThrow(/stage\/research is a symbolic link/);
    expect(readFileSync(join(otherRun, "findings.md"), "utf8")).toBe(SECRET);
  });

  it("never replaces a link planted at the staged file's own path with a write through it", async () => {
    writeFileSync(join(workspace, "output", "findings.md"), "mine");
    mkdirSync(join(workspace, "stage", "research"), { recursive: true });
    symlinkSync(join(otherRun, "findings.md"), join(workspace, "stage", "research", "findings.md"));
    await stage();
    // The link itself was replaced by the copy; its target is untouched.
    expect(readFileSync(join(workspace, "stage", "research", "findings.md"), "utf8")).toBe("mine");
    expect(readFileSync(join(otherRun, "findings.md"), "utf8")).toBe(SECRET);
  });
});
