import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A self-signed certificate and its key (PEM) from openssl, valid a day: a cluster's CA for the
 * EKS API stand-in, the signing certificate of a registry's token service. openssl is on every
 * Debian machine (ca-certificates depends on it).
 */
export function selfSignedCertificate(
  commonName: string,
  extensions: string[] = [],
): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), "squadron-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-subj",
      `/CN=${commonName}`,
      ...extensions.flatMap((e) => ["-addext", e]),
    ],
    { stdio: "ignore" },
  );
  const pair = { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) };
  rmSync(dir, { recursive: true, force: true });
  return pair;
}
