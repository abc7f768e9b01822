import http from "node:http";
import type { AddressInfo } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";

/**
 * S3 cannot be reached offline: a minimal path-style S3 endpoint (ListObjectsV2 with
 * pagination, GetObject, PutObject — plain or `aws-chunked` with a trailing checksum, as the SDK
 * sends streams) answering in S3's documented XML shapes, including the 403 AccessDenied error
 * for buckets listed in `denyBuckets` and 503 SlowDown for the first `slowDownPuts` uploads.
 */
export async function startFakeS3(options: { denyBuckets?: string[]; slowDownPuts?: number } = {}) {
  const objects = new Map<string, Buffer>();
  const requests: Array<{ method: string; path: string; status: number }> = [];
  let slowDowns = options.slowDownPuts ?? 0;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? "/", "http://localhost");
    const [, bucket = "", ...keyParts] = url.pathname.split("/");
    const key = decodeURIComponent(keyParts.join("/"));
    res.on("finish", () =>
      requests.push({ method: req.method ?? "", path: url.pathname, status: res.statusCode }),
    );
    if (req.method === "PUT" && slowDowns > 0) {
      slowDowns--;
      res
        .writeHead(503, { "content-type": "application/xml" })
        .end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>5R1XHMW7ZQ5X0D3B</RequestId><HostId>host</HostId></Error>`,
        );
    } else if (options.denyBuckets?.includes(bucket)) {
      res
        .writeHead(403, { "content-type": "application/xml" })
        .end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>5R1XHMW7ZQ5X0D3A</RequestId><HostId>host</HostId></Error>`,
        );
    } else if (req.method === "PUT" && key) {
      const body = Buffer.concat(chunks);
      const chunked = String(req.headers["content-encoding"] ?? "").includes("aws-chunked");
      objects.set(`${bucket}/${key}`, chunked ? decodeAwsChunked(body) : body);
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
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    objects,
    /** Every request answered, in order. */
    requests,
    /** An SDK client for this endpoint (path-style, dummy credentials). */
    client: () =>
      new S3Client({
        endpoint,
        forcePathStyle: true,
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      }),
    close: () => new Promise((r) => server.close(r)),
  };
}

/** `<hex size>[;ext]\r\n<bytes>\r\n ... 0\r\n<trailers>\r\n\r\n` → the bytes. */
function decodeAwsChunked(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    const size = Number.parseInt(body.subarray(at, lineEnd).toString().split(";")[0] ?? "0", 16);
    if (!size) return Buffer.concat(out);
    out.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
