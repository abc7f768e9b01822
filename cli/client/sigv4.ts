import { Sha256 } from "@aws-crypto/sha256-js";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";

export interface SignableRequest {
  method: string;
  url: URL;
  /** Headers that will be sent (lower-case names); `host` is added from the URL. */
  headers: Record<string, string>;
  body?: string;
}

export interface SigningOptions {
  region: string;
  /** Defaults to the standard AWS chain (env, SSO, shared files, process, web identity, IMDS/ECS). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Fixed time, for tests. */
  signingDate?: Date;
}

let defaultChain: AwsCredentialIdentityProvider | undefined;

/**
 * Signs a request for API Gateway (`execute-api`) with SigV4 and returns every header to send,
 * `authorization`, `x-amz-date` and (for temporary credentials) `x-amz-security-token` included.
 */
export async function signRequest(
  request: SignableRequest,
  options: SigningOptions,
): Promise<Record<string, string>> {
  defaultChain ??= fromNodeProviderChain();
  const signer = new SignatureV4({
    service: "execute-api",
    region: options.region,
    credentials: options.credentials ?? defaultChain,
    sha256: Sha256,
  });
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of request.url.searchParams) {
    const existing = query[key];
    query[key] =
      existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: request.url.protocol,
      hostname: request.url.hostname,
      port: request.url.port === "" ? undefined : Number(request.url.port),
      path: request.url.pathname,
      query,
      headers: { ...request.headers, host: request.url.host },
      body: request.body,
    },
    options.signingDate ? { signingDate: options.signingDate } : {},
  );
  return signed.headers;
}
