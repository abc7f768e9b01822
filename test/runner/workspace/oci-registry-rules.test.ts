import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RegistryClient } from "../../../runner/workspace/oci-registry.ts";

/**
 * Where the pull client refuses to go, whatever a registry answers: credentials never over plain
 * http to another host, redirects never to plain http elsewhere. The registry here is a stand-in
 * that answers with those hostile headers (a real registry never sends them); 192.0.2.1 is
 * TEST-NET-1, never contacted because the client refuses before any request.
 */
let server: Server;
let host: string;
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    if (req.url?.includes("/manifests/")) {
      res.writeHead(401, { "www-authenticate": 'Bearer realm="http://192.0.2.1/token",service="x"' }).end();
    } else {
      res.writeHead(307, { location: "http://192.0.2.1/blob" }).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe("the OCI pull client's transport rules", () => {
  const credentials = { kind: "basic" as const, username: "u", password: "p" };

  it("sends no credentials to a token realm that is plain http on another host", async () => {
    const client = new RegistryClient({ registry: host, repository: "a/b", tag: "v1" }, credentials);
    await expect(client.manifest()).rejects.toThrow(
      "the registry's token realm http://192.0.2.1 is not https",
    );
  });

  it("follows no redirect to plain http on another host", async () => {
    const client = new RegistryClient({ registry: host, repository: "a/b", tag: "v1" }, credentials);
    const digest = `sha256:${"a".repeat(64)}`;
    await expect(client.blob({ mediaType: "x", digest, size: 1 }, 10)).rejects.toThrow(
      "the registry redirected to http://192.0.2.1, which is not https",
    );
    expect(seen).toContain(`GET /v2/a/b/blobs/${digest}`);
  });
});
