/**
 * The runner loads the S3 client only to talk to S3 (runner/config/load-s3-access.ts): S3's part
 * is a bundle of its own beside the entrypoint, so a runner with nothing in S3 (every runner of
 * the local stack) no longer carries it (issue 14, item 16: runners under 60 MiB).
 */
import { randomUUID } from "node:crypto";
import { cpSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runManifestKey } from "../../../core/bucket-layout.ts";
import { startFakeS3 } from "../../support/fake-s3.ts";
import { tempDir } from "../../support/git-fixtures.ts";
import {
  bundledRunner,
  coworkTeam,
  scriptedAgent,
  startRunner,
  writeRunManifest,
} from "../session/fixtures.ts";

const SOURCE_ENTRY = fileURLToPath(new URL("../../../runner/entrypoint.ts", import.meta.url));
const BUCKET = "squadron-data";

describe("the runner's S3 part", () => {
  let dist: string;
  let s3: Awaited<ReturnType<typeof startFakeS3>>;
  const dirs: string[] = [];
  const scratch = (prefix: string) => {
    dirs.push(tempDir(prefix));
    return dirs.at(-1) as string;
  };
  beforeAll(async () => {
    [dist, s3] = await Promise.all([bundledRunner(), startFakeS3()]);
  }, 120_000);
  afterAll(async () => {
    await s3?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const initEnv = (runId: string, teamDir: string) => ({
    SQUADRON_MODE: "init",
    SQUADRON_RUN_ID: runId,
    SQUADRON_TEAM_DIR: teamDir,
  });

  it("is a bundle of its own: the runner's bundle holds none of the S3 client", () => {
    expect(readFileSync(join(dist, "entrypoint.cjs"), "utf8")).not.toMatch(/@aws-sdk\/client-s3/);
    expect(readFileSync(join(dist, "s3-access.cjs"), "utf8")).toMatch(/@aws-sdk\/client-s3/);
  });

  it("is loaded to read the run manifest from S3, bundled and from the sources", async () => {
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const team = coworkTeam(scriptedAgent("lead", "lead"), [], `s3-${runId}`);
    const deadline = new Date(Date.now() + 3_600_000).toISOString();
    await s3.client().send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: runManifestKey(runId),
        Body: JSON.stringify({ runId, team, deadline }),
      }),
    );
    for (const entry of [join(dist, "entrypoint.js"), SOURCE_ENTRY]) {
      const run = await startRunner(entry, {
        ...initEnv(runId, scratch("squadron-s3-team-")),
        SQUADRON_BUCKET: BUCKET,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        // An IP-address endpoint: the SDK addresses buckets path-style, as the fake expects.
        AWS_ENDPOINT_URL_S3: s3.endpoint,
      }).result;
      expect(run.result, `${entry}: ${run.stderr}`).toMatchObject({ ok: true, exitCode: 0, runId });
    }
    expect(s3.requests).toContainEqual({
      method: "GET",
      path: `/${BUCKET}/${runManifestKey(runId)}`,
      status: 200,
    });
  });

  it("is never loaded by a runner with nothing in S3", async () => {
    // The bundle without its S3 part: a runner that required it would fail to start.
    const withoutS3 = scratch("squadron-runner-no-s3-");
    cpSync(dist, withoutS3, { recursive: true, filter: (source) => !source.includes("s3-access") });
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const teamDir = scratch("squadron-local-team-");
    await writeRunManifest(teamDir, runId, coworkTeam(scriptedAgent("lead", "lead"), [], `local-${runId}`));
    const run = await startRunner(join(withoutS3, "entrypoint.js"), {
      ...initEnv(runId, teamDir),
      SQUADRON_OBJECT_STORE_DIR: scratch("squadron-objects-"),
    }).result;
    expect(run.result, run.stderr).toMatchObject({ ok: true, exitCode: 0, runId });
  });
});
