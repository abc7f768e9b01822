import { createHash, createHmac } from "node:crypto";
import type { RecordedRequest } from "./api-server.ts";

export const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "session-token-example",
};

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const hmac = (key: Buffer | string, text: string) => createHmac("sha256", key).update(text, "utf8").digest();
const rfc3986 = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * SigV4 written out from AWS's specification (canonical request, string to sign, derived key),
 * sharing no code with the signer under test.
 */
export function expectedSignature(request: RecordedRequest, signedHeaders: string[], region: string): string {
  const amzDate = request.headers["x-amz-date"] as string;
  const date = amzDate.slice(0, 8);
  // API Gateway is not S3: every path segment is encoded twice.
  const canonicalPath = request.path
    .split("/")
    .map((segment) => rfc3986(rfc3986(decodeURIComponent(segment))))
    .join("/");
  const canonicalQuery = Object.entries(request.query)
    .map(([k, v]) => [rfc3986(k), rfc3986(v)])
    .sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalHeaders = signedHeaders
    .map((name) => `${name}:${(request.headers[name] ?? "").trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const canonicalRequest = [
    request.method,
    canonicalPath,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders.join(";"),
    sha256(request.body),
  ].join("\n");
  const scope = `${date}/${region}/execute-api/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  let key = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, date);
  for (const part of [region, "execute-api", "aws4_request"]) key = hmac(key, part);
  return createHmac("sha256", key).update(stringToSign, "utf8").digest("hex");
}

export const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/(\d{8})\/([a-z0-9-]+)\/execute-api\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;
