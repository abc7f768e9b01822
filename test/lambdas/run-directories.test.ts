/**
 * EKS runs share one volume, so their isolation is POSIX: Prepare (as root, through its mount of
 * the runs' root) gives each run a directory of its own uid with mode 0700. Checked on a real
 * file system with real processes running as the runs' uids (the tests run as root, as CI does).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PosixRunDirectories, posixUidFor } from "../../core/control/run-workspace.ts";

const asRoot = process.getuid?.() === 0;

/** Runs `code` in a node process as `uid`; its exit status and stderr. */
function nodeAs(uid: number, code: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ["-e", code], { uid, gid: uid, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

async function runsRoot(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), "squadron-runs-"));
  // Like /runs on EFS (storage.ts RunsReader creation info): root's, 0755.
  await chmod(root, 0o755);
  return root;
}

describe.runIf(asRoot)("run directories on a shared volume (EKS)", () => {
  it("creates the run's directory owned by its uid with mode 0700, and again on a retried Prepare", async () => {
    const root = await runsRoot();
    const dirs = new PosixRunDirectories(root);
    const created = await dirs.create({ runId: "billing-0a1b2c3d" });
    const uid = posixUidFor("billing-0a1b2c3d");
    expect(created).toEqual({ accessPointId: "", posixUid: uid, taskDefinitionArn: "" });
    const st = statSync(join(root, "billing-0a1b2c3d"));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([uid, uid, 0o700]);
    await expect(dirs.create({ runId: "billing-0a1b2c3d" })).resolves.toEqual(created);
  });

  it("lets a run's uid write its own directory and not read or enter another run's", async () => {
    const root = await runsRoot();
    const dirs = new PosixRunDirectories(root);
    const a = await dirs.create({ runId: "alpha-00000001" });
    const b = await dirs.create({ runId: "beta-00000002" });
    expect(a.posixUid).not.toBe(b.posixUid);
    const aDir = join(root, "alpha-00000001");
    const bDir = join(root, "beta-00000002");
    writeFileSync(join(bDir, "secret.txt"), "run b's file");

    const own = nodeAs(
      a.posixUid,
      `require("fs").writeFileSync(${JSON.stringify(join(aDir, "team.json"))}, "{}")`,
    );
    expect(own).toEqual({ status: 0, stderr: "" });
    const list = nodeAs(a.posixUid, `require("fs").readdirSync(${JSON.stringify(bDir)})`);
    expect(list.status).not.toBe(0);
    expect(list.stderr).toContain("EACCES");
    const read = nodeAs(
      a.posixUid,
      `require("fs").readFileSync(${JSON.stringify(join(bDir, "secret.txt"))})`,
    );
    expect(read.stderr).toContain("EACCES");
    // Nor can it create a directory for a run not yet prepared (the runs' root is root's, 0755).
    const squat = nodeAs(a.posixUid, `require("fs").mkdirSync(${JSON.stringify(join(root, "gamma-3"))})`);
    expect(squat.stderr).toContain("EACCES");
  });

  it("refuses to hand over a path that is not a directory", async () => {
    const root = await runsRoot();
    writeFileSync(join(root, "odd-00000003"), "");
    await expect(new PosixRunDirectories(root).create({ runId: "odd-00000003" })).rejects.toThrow(
      /is not a directory/,
    );
  });
});
