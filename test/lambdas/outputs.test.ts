import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OutputsNotDelivered } from "../../core/control/run-outputs.ts";
import { parseTeam } from "../../core/manifest/index.ts";
import { TeamStore } from "../../core/store/team-store.ts";
import { handler } from "../../lambdas/outputs/handler.ts";
import { startFakeS3 } from "../support/fake-s3.ts";
import { tempDir } from "../support/git-fixtures.ts";
import { newTable } from "./harness.ts";

/**
 * The outputs function as Lambda runs it: its handler, configured only through the environment the
 * stack sets (table, bucket, runs mount), against DynamoDB Local, a run directory laid out as on
 * EFS, and an S3 endpoint answering in S3's shapes.
 */
const q3 = readFileSync(new URL("../../examples/q3-report.yaml", import.meta.url), "utf8");
const BUCKET = "squadron-data";

let s3: Awaited<ReturnType<typeof startFakeS3>>;
let store: TeamStore;
const runs = tempDir("squadron-outputs-");
const saved = { ...process.env };

beforeAll(async () => {
  s3 = await startFakeS3({ denyBuckets: ["partner-reports"] });
  const table = await newTable();
  store = new TeamStore({ client: table.client, tableName: table.tableName });
  Object.assign(process.env, {
    SQUADRON_TABLE_NAME: table.tableName,
    SQUADRON_BUCKET: BUCKET,
    SQUADRON_RUNS_MOUNT: runs,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoDbLocalEndpoint"),
    // An IP-address endpoint: the SDK addresses buckets path-style, as the fake expects.
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    POWERTOOLS_METRICS_DISABLED: "true",
  });
});

afterAll(async () => {
  process.env = saved;
  await s3.close();
  execFileSync("rm", ["-rf", runs]);
});

function write(file: string, content: string) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

async function coworkRun(name: string, runId: string, outputPrefix?: string) {
  const text = q3
    .replace("name: q3-report", `name: ${name}`)
    .replace(
      'mountPath: "/workspace/output"',
      `mountPath: "/workspace/output"${outputPrefix ? `\n      s3Prefix: "${outputPrefix}"` : ""}`,
    );
  const team = parseTeam(text);
  await store.createRun(team, { runId });
  return { runId, namespace: team.metadata.namespace, teamName: team.metadata.name };
}

const keysUnder = (prefix: string) => [...s3.objects.keys()].filter((k) => k.startsWith(prefix)).sort();

describe("outputs function (DeliverOutputs)", () => {
  it("copies the run's output directory to its own prefix and records where", async () => {
    const payload = await coworkRun("q3-a", "run-a1");
    write(path.join(runs, "run-a1/workspace/output/q3-report.md"), "# Q3\nRevenue up.\n");
    write(path.join(runs, "run-a1/workspace/output/charts/revenue.svg"), "<svg/>");
    write(path.join(runs, "run-a1/workspace/data/sales.csv"), "not an output\n");

    const result = await handler(payload);

    const prefix = `${BUCKET}/runs/cowork-agents/q3-a/run-a1/output/`;
    expect(result).toEqual({
      location: `s3://${prefix}`,
      files: 2,
      // Name, size and where, for onComplete "deliver" (core/control/delivery.ts).
      artifacts: [
        { name: "charts/revenue.svg", size: 6, location: `s3://${prefix}charts/revenue.svg` },
        { name: "q3-report.md", size: 17, location: `s3://${prefix}q3-report.md` },
      ],
    });
    expect(keysUnder(`${BUCKET}/`)).toEqual([`${prefix}charts/revenue.svg`, `${prefix}q3-report.md`]);
    expect(s3.objects.get(`${prefix}q3-report.md`)?.toString()).toBe("# Q3\nRevenue up.\n");
    const events = await store.listEvents({ namespace: "cowork-agents", name: "q3-a" });
    expect(events.items.map((e) => [e.reason, e.message])).toContainEqual([
      "OutputsDelivered",
      `Delivered 2 output files to s3://${prefix}.`,
    ]);
  });

  it("never follows a link an agent planted to another run's files", async () => {
    write(path.join(runs, "run-other/workspace/output/secret.md"), "another team's secret\n");
    const payload = await coworkRun("q3-b", "run-b1");
    write(path.join(runs, "run-b1/workspace/output/mine.md"), "mine\n");
    symlinkSync(
      path.join(runs, "run-other/workspace/output/secret.md"),
      path.join(runs, "run-b1/workspace/output/leak.md"),
    );
    symlinkSync(
      path.join(runs, "run-other/workspace/output"),
      path.join(runs, "run-b1/workspace/output/dir"),
    );

    const result = await handler(payload);

    expect(result.files).toBe(1);
    expect(keysUnder(`${BUCKET}/runs/cowork-agents/q3-b/`)).toEqual([
      `${BUCKET}/runs/cowork-agents/q3-b/run-b1/output/mine.md`,
    ]);
    expect([...s3.objects.values()].map(String)).not.toContain("another team's secret\n");
  });

  it("refuses an output directory that is a link, or reached through one, to another run (issue 14: 2)", async () => {
    write(path.join(runs, "run-prod/workspace/in/secret.txt"), "prod secret\n");
    const asOutput = await coworkRun("q3-link-out", "run-l1");
    mkdirSync(path.join(runs, "run-l1/workspace"), { recursive: true });
    symlinkSync("../../run-prod/workspace", path.join(runs, "run-l1/workspace/output"));
    await expect(handler(asOutput)).rejects.toThrow(/output is a symbolic link/);

    const asWorkspace = await coworkRun("q3-link-ws", "run-l2");
    mkdirSync(path.join(runs, "run-l2"), { recursive: true });
    symlinkSync("../run-prod/workspace", path.join(runs, "run-l2/workspace"));
    await expect(handler(asWorkspace)).rejects.toThrow(/workspace is a symbolic link/);

    const upward = await coworkRun("q3-link-up", "run-l3");
    mkdirSync(path.join(runs, "run-l3/workspace"), { recursive: true });
    symlinkSync("../..", path.join(runs, "run-l3/workspace/output"));
    await expect(handler(upward)).rejects.toThrow(OutputsNotDelivered);
    expect([...s3.objects.values()].map(String)).not.toContain("prod secret\n");
  });

  it("delivers to the manifest's output prefix, and fails naming it when the bucket refuses", async () => {
    const own = await coworkRun("q3-c", "run-c1", "outputs/cowork-agents/q3/");
    write(path.join(runs, "run-c1/workspace/output/q3-report.md"), "# Q3\n");
    expect(await handler(own)).toEqual({
      location: `s3://${BUCKET}/outputs/cowork-agents/q3/`,
      files: 1,
      artifacts: [
        { name: "q3-report.md", size: 5, location: `s3://${BUCKET}/outputs/cowork-agents/q3/q3-report.md` },
      ],
    });

    const refused = await coworkRun("q3-d", "run-d1", "s3://partner-reports/q3/");
    write(path.join(runs, "run-d1/workspace/output/q3-report.md"), "# Q3\n");
    const failure = await handler(refused).catch((error: unknown) => error as Error);
    expect(failure).toBeInstanceOf(OutputsNotDelivered);
    expect((failure as Error).name).toBe("OutputsNotDelivered");
    expect((failure as Error).message).toContain(
      "could not be delivered to s3://partner-reports/q3/: Access Denied",
    );
    expect((failure as Error).message).toContain("runs/run-d1/workspace/output");
    const events = await store.listEvents({ namespace: "cowork-agents", name: "q3-d" });
    expect(events.items.map((e) => e.reason)).not.toContain("OutputsDelivered");
  });

  it("refuses a run that is no longer the team's current one, and skips coding runs", async () => {
    const payload = await coworkRun("q3-e", "run-e1");
    await expect(handler({ ...payload, runId: "run-e0" })).rejects.toThrow(
      "Run run-e0 is no longer the current run of cowork-agents/q3-e (that is run-e1)",
    );
    const coding = parseTeam(
      readFileSync(new URL("../../examples/hello-team.yaml", import.meta.url), "utf8"),
    );
    await store.createRun(coding, { runId: "run-f1" });
    const before = s3.objects.size;
    expect(
      await handler({
        runId: "run-f1",
        namespace: coding.metadata.namespace,
        teamName: coding.metadata.name,
      }),
    ).toEqual({ location: "", files: 0 });
    expect(s3.objects.size).toBe(before);
  });
});
