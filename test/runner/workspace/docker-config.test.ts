import { describe, expect, it } from "vitest";
import { DockerConfigError, registryCredentials } from "../../../runner/workspace/docker-config.ts";

/** The forms a kubernetes.io/dockerconfigjson secret's value takes (kubectl, docker login). */
const b64 = (text: string) => Buffer.from(text).toString("base64");
const WHAT = 'the imagePullSecret "ghcr-creds"';

describe("registry credentials from a dockerconfigjson", () => {
  it("reads kubectl's form (username, password and auth) and docker login's (auth only)", () => {
    const kubectl = JSON.stringify({
      auths: { "ghcr.io": { username: "me", password: "p:w", auth: b64("me:p:w") } },
    });
    expect(registryCredentials(kubectl, "ghcr.io", WHAT)).toEqual({
      kind: "basic",
      username: "me",
      password: "p:w",
    });
    const docker = JSON.stringify({ auths: { "https://ghcr.io/v1/": { auth: b64("me:tok:en") } } });
    expect(registryCredentials(docker, "ghcr.io", WHAT)).toEqual({
      kind: "basic",
      username: "me",
      password: "tok:en",
    });
  });

  it("reads the Secret's data map, the legacy .dockercfg map and identity tokens", () => {
    const inner = JSON.stringify({ auths: { "localhost:5000": { auth: b64("u:p") } } });
    expect(
      registryCredentials(JSON.stringify({ ".dockerconfigjson": inner }), "localhost:5000", WHAT),
    ).toEqual({
      kind: "basic",
      username: "u",
      password: "p",
    });
    expect(registryCredentials(JSON.stringify({ "quay.io": { auth: b64("q:r") } }), "quay.io", WHAT)).toEqual(
      {
        kind: "basic",
        username: "q",
        password: "r",
      },
    );
    const token = JSON.stringify({ auths: { "example.azurecr.io": { identitytoken: "refresh-token" } } });
    expect(registryCredentials(token, "example.azurecr.io", WHAT)).toEqual({
      kind: "identity-token",
      token: "refresh-token",
    });
  });

  it("matches Docker Hub's key for docker.io, and nothing for another registry", () => {
    const hub = JSON.stringify({ auths: { "https://index.docker.io/v1/": { auth: b64("d:h") } } });
    expect(registryCredentials(hub, "docker.io", WHAT)).toEqual({
      kind: "basic",
      username: "d",
      password: "h",
    });
    expect(registryCredentials(hub, "ghcr.io", WHAT)).toBeUndefined();
  });

  it("refuses what is not a docker config, without showing its value", () => {
    expect(() => registryCredentials("hunter2-not-json", "ghcr.io", WHAT)).toThrow(DockerConfigError);
    expect(() => registryCredentials("hunter2-not-json", "ghcr.io", WHAT)).toThrow(
      `${WHAT} is not JSON (a kubernetes.io/dockerconfigjson document is expected)`,
    );
    const bad = JSON.stringify({ auths: { "ghcr.io": { auth: b64("hunter2") } } });
    expect(() => registryCredentials(bad, "ghcr.io", WHAT)).toThrow(/is not base64 of user:password/);
    try {
      registryCredentials(bad, "ghcr.io", WHAT);
    } catch (error) {
      expect((error as Error).message).not.toContain("hunter2");
    }
  });
});
