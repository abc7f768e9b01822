import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseS3Location, S3ObjectStore } from "../../../runner/workspace/object-store.ts";
import { tempDir } from "../../support/git-fixtures.ts";

/**
 * S3 cannot be reached offline: a minimal path-style S3 endpoint (ListObjectsV2 with
 * pagination, GetObject, PutObject) answering in S3's documented XML shapes.
 */
async function startFakeS3() {
  const objects = new Map<string, Buffer>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? "/", "http://localhost");
    const [, bucket = "", ...keyParts] = url.pathname.split("/");
    const key = decodeURIComponent(keyParts.join("/"));
    if (req.method === "PUT" && key) {
      objects.set(`${bucket}/${key}`, Buffer.concat(chunks));
      res.writeHead(200, { ETag: '"etag"' }).end();
    } else if (req.method === "GET" && !key && url.searchParams.get("list-type") === "2") {
      const prefix = url.searchParams.get("prefix") ?? "";
      const start = Number(url.searchParams.get("continuation-token") ?? 0);
      const keys = [...objects.keys()]
        .filter((k) => k.startsWith(`${bucket}/${prefix}`))
        .map((k) => k.slice(bucket.length + 1))
        .sort();
      const page = keys.slice(start, start + 2);
      const truncated = start + 2 < keys.length;
      res
        .writeHead(200, { "content-type": "application/xml" })
        .end(
          `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucket}</Name><Prefix>${prefix}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>${truncated}</IsTruncated>${truncated ? `<NextContinuationToken>${start + 2}</NextContinuationToken>` : ""}${page.map((k) => `<Contents><Key>${k}</Key><Size>${objects.get(`${bucket}/${k}`)?.length}</Size></Contents>`).join("")}</ListBucketResult>`,
        );
    } else if (req.method === "GET" && objects.has(`${bucket}/${key}`)) {
      const body = objects.get(`${bucket}/${key}`) as Buffer;
      res
        .writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" })
        .end(body);
    } else {
      res.writeHead(404, { "content-type": "application/xml" }).end("<Error><Code>NoSuchKey</Code></Error>");
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects,
    close: () => new Promise((r) => server.close(r)),
  };
}

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
    const client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const store = new S3ObjectStore(client, "squadron-data");
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
});
