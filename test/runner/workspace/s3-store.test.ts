import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseS3Location, S3ObjectStore } from "../../../core/run-files/object-store.ts";
import { startFakeS3 } from "../../support/fake-s3.ts";
import { tempDir } from "../../support/git-fixtures.ts";

describe("S3 object store", () => {
  let s3: Awaited<ReturnType<typeof startFakeS3>>;
  const root = tempDir("squadron-s3-");
  beforeAll(async () => {
    s3 = await startFakeS3();
  });
  afterAll(async () => {
    await s3.close();
    execFileSync("rm", ["-rf", root]);
  });

  it("uploads a directory and downloads a prefix across pages", async () => {
    const store = new S3ObjectStore(s3.client(), "squadron-data");
    const out = path.join(root, "out");
    mkdirSync(path.join(out, "charts"), { recursive: true });
    writeFileSync(path.join(out, "report.md"), "# r\n");
    writeFileSync(path.join(out, "charts", "a.svg"), "<svg/>");
    writeFileSync(path.join(out, "charts", "b.svg"), "<svg b/>");
    const keys = await store.upload(out, parseS3Location("runs/ns/t/r1/output"));
    expect(keys).toEqual([
      "runs/ns/t/r1/output/charts/a.svg",
      "runs/ns/t/r1/output/charts/b.svg",
      "runs/ns/t/r1/output/report.md",
    ]);
    expect(s3.objects.get("squadron-data/runs/ns/t/r1/output/report.md")?.toString()).toBe("# r\n");

    const back = path.join(root, "back");
    const files = await store.download(parseS3Location("s3://squadron-data/runs/ns/t/r1/output/"), back);
    expect(files).toEqual(["charts/a.svg", "charts/b.svg", "report.md"]);
    expect(readFileSync(path.join(back, "charts/b.svg"), "utf8")).toBe("<svg b/>");
    expect(store.describe(parseS3Location("x/y"))).toBe("s3://squadron-data/x/y/");
  });

  it("retries S3's transient answers on uploads, and never a refusal", async () => {
    const busy = await startFakeS3({ slowDownPuts: 2, denyBuckets: ["partner-reports"] });
    try {
      const out = path.join(root, "retry");
      mkdirSync(out, { recursive: true });
      writeFileSync(path.join(out, "report.md"), "# after two SlowDowns\n");
      const store = new S3ObjectStore(busy.client(), "squadron-data");
      expect(await store.upload(out, parseS3Location("runs/ns/t/r2/output"))).toEqual([
        "runs/ns/t/r2/output/report.md",
      ]);
      expect(busy.objects.get("squadron-data/runs/ns/t/r2/output/report.md")?.toString()).toBe(
        "# after two SlowDowns\n",
      );
      expect(busy.requests.map((r) => r.status)).toEqual([503, 503, 200]);

      await expect(store.upload(out, parseS3Location("s3://partner-reports/q3/"))).rejects.toThrow(
        "Access Denied",
      );
      expect(
        busy.requests.filter((r) => r.path.startsWith("/partner-reports/")).map((r) => r.status),
      ).toEqual([403]);
    } finally {
      await busy.close();
    }
  });
});
