import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runnerSecrets } from "../../../core/control/team-secrets.ts";
import { parseTeam } from "../../../core/manifest/index.ts";
import { initWorkspace } from "../../../runner/workspace/init.ts";
import { type OCI_SKILL_LIMITS, pullOciSkill } from "../../../runner/workspace/oci-skill.ts";
import { tempDir } from "../../support/git-fixtures.ts";
import {
  blobDataPath,
  hasRegistry,
  pushArtifact,
  REGISTRY_BINARY,
  REGISTRY_IDENTITY_TOKEN,
  REGISTRY_USER,
  type RunningRegistry,
  startRedirectingFront,
  startRegistry,
} from "../../support/oci-registry.ts";

/**
 * kagents v0.8 skills from OCI, pulled by the runner's init from a real registry (CNCF
 * distribution 2.8.2, Debian's docker-registry) that the artifacts are pushed to the way oras
 * pushes them; the pull secret reaches the runner as its task definition would give it.
 */

if (!hasRegistry) {
  console.warn(
    `OCI skill tests skipped: ${REGISTRY_BINARY} is missing (install it with: apt-get install -y docker-registry)`,
  );
}

const SKILL_MD =
  "---\nname: report-writing\ndescription: How reports are written here.\n---\n# Report writing\n";
const TEMPLATE = "# {{title}}\n\n## Findings\n";

/** The skill directory as `oras push <ref> .` run inside it packs it (title ".", bare paths). */
const SKILL_DIR = [
  { name: ".", type: "directory" as const },
  { name: "SKILL.md", content: SKILL_MD },
  { name: "templates", type: "directory" as const },
  { name: "templates/report.tmpl", content: TEMPLATE },
];

function team(skills: string, extra = ""): string {
  return `apiVersion: kagents.dev/v1alpha1
kind: AgentTeam
metadata:
  name: market-research
  namespace: cowork-agents
spec:
  workspace:
    output:
      mountPath: /workspace/output
${extra}  lead:
    prompt: Coordinate.
  teammates:
    - name: researcher
      prompt: Research.
      skills:
${skills}`;
}

function ociSkill(name: string, ref: string): string {
  return `        - name: ${name}\n          source:\n            oci: "${ref}"\n`;
}

const PULL_SECRET = "  imagePullSecrets:\n    - name: ghcr-creds\n";

const root = tempDir("squadron-oci-skills-");
afterAll(() => rmSync(root, { recursive: true, force: true }));
let runs = 0;

async function init(manifest: string, env: NodeJS.ProcessEnv = {}) {
  const runDir = path.join(root, `run-${++runs}`);
  const result = await initWorkspace({ runDir, team: parseTeam(manifest), env });
  return { runDir, result, skills: path.join(result.layout.workspaceDir, ".claude", "skills") };
}

/** The dockerconfigjson `kubectl create secret docker-registry` writes, for `host`. */
function dockerConfig(
  host: string,
  user = REGISTRY_USER.username,
  password = REGISTRY_USER.password,
): string {
  const auth = Buffer.from(`${user}:${password}`).toString("base64");
  return JSON.stringify({ auths: { [host]: { username: user, password, auth } } });
}

describe.skipIf(!hasRegistry)("skills from OCI against a real registry (distribution 2.8.2)", () => {
  describe("a public registry", () => {
    let registry: RunningRegistry;
    beforeAll(async () => {
      registry = await startRegistry();
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it("pulls a skill directory pushed as oras does and materialises SKILL.md and its subdirectory", async () => {
      await pushArtifact(registry.host, "kagents/skills/report-writing", "v1", [
        { directory: ".", entries: SKILL_DIR },
      ]);
      const { skills, result } = await init(
        team(ociSkill("report-writing", `${registry.host}/kagents/skills/report-writing:v1`)),
      );
      const dir = path.join(skills, "report-writing");
      expect(readFileSync(path.join(dir, "SKILL.md"), "utf8")).toBe(SKILL_MD);
      expect(readFileSync(path.join(dir, "templates", "report.tmpl"), "utf8")).toBe(TEMPLATE);
      expect(result.agents.find((a) => a.name === "researcher")?.skills).toEqual([
        path.join(dir, "SKILL.md"),
      ]);
    });

    it("pulls a digest-pinned reference, and files pushed one layer each", async () => {
      const artifact = await pushArtifact(registry.host, "kagents/skills/files", "v2", [
        { file: "SKILL.md", content: SKILL_MD },
        { file: "examples/input-1.md", content: "an input\n" },
      ]);
      const ref = `${registry.host}/kagents/skills/files@${artifact.digest}`;
      const { skills } = await init(team(ociSkill("files", ref)));
      expect(readFileSync(path.join(skills, "files", "SKILL.md"), "utf8")).toBe(SKILL_MD);
      expect(readFileSync(path.join(skills, "files", "examples", "input-1.md"), "utf8")).toBe("an input\n");
    });

    it("reads oras' image-spec v1.0 form (the artifact type as config) and long names (ustar prefix, pax)", async () => {
      const deep = `examples/${"d".repeat(90)}/${"f".repeat(60)}.md`; // 165 bytes: ustar prefix + name
      const deeper = `examples/${"e".repeat(120)}/${"g".repeat(120)}/${"h".repeat(40)}.md`; // pax path
      await pushArtifact(
        registry.host,
        "kagents/skills/v10",
        "v1",
        [
          {
            directory: ".",
            entries: [
              { name: "SKILL.md", content: SKILL_MD },
              { name: deep, content: "deep\n" },
              { name: deeper, content: "deeper\n" },
            ],
          },
        ],
        {},
        "v1.0",
      );
      const { skills } = await init(team(ociSkill("v10", `${registry.host}/kagents/skills/v10:v1`)));
      expect(readFileSync(path.join(skills, "v10", "SKILL.md"), "utf8")).toBe(SKILL_MD);
      expect(readFileSync(path.join(skills, "v10", deep), "utf8")).toBe("deep\n");
      expect(readFileSync(path.join(skills, "v10", deeper), "utf8")).toBe("deeper\n");
    });

    it("bounds a skill: its layers' weight, what they unpack to, its number of files", async () => {
      const many = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.md`, content: "x".repeat(400) }));
      await pushArtifact(registry.host, "kagents/skills/big", "v1", [
        { directory: ".", entries: [{ name: "SKILL.md", content: SKILL_MD }, ...many] },
      ]);
      const ref = `${registry.host}/kagents/skills/big:v1`;
      const pull = (limits: typeof OCI_SKILL_LIMITS) =>
        pullOciSkill(ref, mkdtempSync(path.join(root, "bounded-")), { limits });
      const roomy = { maxBlobBytes: 1_000_000, maxUnpackedBytes: 1_000_000, maxFiles: 100 };
      expect(await pull(roomy)).toEqual(["SKILL.md", "f0.md", "f1.md", "f2.md", "f3.md", "f4.md"]);
      await expect(pull({ ...roomy, maxBlobBytes: 100 })).rejects.toThrow(/more than the 100 a skill may/);
      await expect(pull({ ...roomy, maxUnpackedBytes: 1000 })).rejects.toThrow(
        /unpacks to more than 1000 bytes/,
      );
      await expect(pull({ ...roomy, maxFiles: 3 })).rejects.toThrow("the skill has more than 3 files");
    });

    it("refuses a pinned digest the registry's manifest does not have", async () => {
      const ref = `${registry.host}/kagents/skills/files@sha256:${"0".repeat(64)}`;
      await expect(init(team(ociSkill("files", ref)))).rejects.toThrow(
        /skill files: pulling .* failed: GET manifest sha256:0+ answered 404 Not Found \(MANIFEST_UNKNOWN/,
      );
    });

    it("refuses a blob whose bytes are not its digest (tampered in the registry's storage)", async () => {
      const artifact = await pushArtifact(registry.host, "kagents/skills/tampered", "v1", [
        { file: "SKILL.md", content: SKILL_MD },
      ]);
      const layer = artifact.layers[0];
      if (!layer) throw new Error("no layer");
      // Same size, other bytes: the registry serves them; only the pull's digest check can notice.
      writeFileSync(blobDataPath(registry.storage, layer.digest), SKILL_MD.replace("Report", "Hacked"));
      await expect(
        init(team(ociSkill("tampered", `${registry.host}/kagents/skills/tampered:v1`))),
      ).rejects.toThrow(`the layer ${layer.digest} has the digest sha256:`);
    });

    it("refuses a tar entry with ../ and writes nothing outside the skill", async () => {
      await pushArtifact(registry.host, "kagents/skills/escape", "v1", [
        {
          directory: ".",
          entries: [
            { name: "SKILL.md", content: SKILL_MD },
            { name: "../../../escaped.md", content: "outside\n" },
          ],
        },
      ]);
      const before = runs + 1;
      await expect(
        init(team(ociSkill("escape", `${registry.host}/kagents/skills/escape:v1`))),
      ).rejects.toThrow(/skill escape: .*"\.\.\/\.\.\/\.\.\/escaped\.md" leaves the skill's directory/);
      const runDir = path.join(root, `run-${before}`);
      expect(existsSync(path.join(runDir, "workspace", "escaped.md"))).toBe(false);
      expect(existsSync(path.join(runDir, "escaped.md"))).toBe(false);
    });

    it("refuses a symbolic link in the archive", async () => {
      await pushArtifact(registry.host, "kagents/skills/link", "v1", [
        {
          directory: ".",
          entries: [
            { name: "SKILL.md", content: SKILL_MD },
            { name: "etc", type: "symlink", linkname: "/etc" },
          ],
        },
      ]);
      await expect(init(team(ociSkill("link", `${registry.host}/kagents/skills/link:v1`)))).rejects.toThrow(
        /skill link: .*"etc" is a link; a skill's files must be regular files/,
      );
    });

    it("refuses an artifact without SKILL.md at its top", async () => {
      await pushArtifact(registry.host, "kagents/skills/nested", "v1", [
        // `oras push <ref> report-writing` from the parent: the files land under report-writing/.
        {
          directory: "report-writing",
          entries: SKILL_DIR.map((e) => ({ ...e, name: `report-writing/${e.name}`.replace(/\/\.$/, "") })),
        },
      ]);
      await expect(
        init(team(ociSkill("nested", `${registry.host}/kagents/skills/nested:v1`))),
      ).rejects.toThrow(/skill nested: the OCI artifact .* has no SKILL\.md at its top/);
    });

    it("answers a tag the registry does not have with its error", async () => {
      await expect(
        init(team(ociSkill("missing", `${registry.host}/kagents/skills/nothing-here:v9`))),
      ).rejects.toThrow(
        /skill missing: pulling .* anonymously .* answered 404 Not Found \(MANIFEST_UNKNOWN: manifest unknown\)/,
      );
    });
  });

  // Basic: distribution's htpasswd realm. Bearer: its token authentication, the flow of ghcr.io
  // and Docker Hub (a 401 challenge, a JWT from the realm asked with the secret's credentials).
  describe.each([
    {
      auth: "htpasswd (Basic)",
      options: { htpasswd: true },
      refused: "GET manifest v3 answered 401 Unauthorized",
    },
    {
      auth: "token (Bearer)",
      options: { token: true },
      refused: "the registry's token service answered 401 Unauthorized (incorrect username or password)",
    },
  ])("a registry that requires credentials: $auth", ({ options, refused }) => {
    let registry: RunningRegistry;
    const repo = "acme-internal/skills/report-writing";
    beforeAll(async () => {
      registry = await startRegistry(options);
      await pushArtifact(
        registry.host,
        repo,
        "v3",
        [{ directory: ".", entries: SKILL_DIR }],
        await registry.pushHeaders(repo),
      );
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it("pulls with the credentials of the first imagePullSecret, handed to the runner as its secret", async () => {
      const manifest = team(ociSkill("report-writing", `${registry.host}/${repo}:v3`), PULL_SECRET);
      // What Prepare puts in the runner's task definition (and the local stack's environment).
      expect(runnerSecrets(parseTeam(manifest))).toContainEqual({
        env: "SQUADRON_SECRET_GHCR_CREDS",
        secret: "ghcr-creds",
      });
      const { skills } = await init(manifest, { SQUADRON_SECRET_GHCR_CREDS: dockerConfig(registry.host) });
      expect(readFileSync(path.join(skills, "report-writing", "SKILL.md"), "utf8")).toBe(SKILL_MD);
      expect(readFileSync(path.join(skills, "report-writing", "templates", "report.tmpl"), "utf8")).toBe(
        TEMPLATE,
      );
    });

    it("fails without credentials, naming the skill and the registry's answer", async () => {
      await expect(init(team(ociSkill("report-writing", `${registry.host}/${repo}:v3`)))).rejects.toThrow(
        `workspace init failed: skill report-writing: pulling ${registry.host}/${repo}:v3 anonymously (no spec.imagePullSecrets) failed: GET manifest v3 answered 401 Unauthorized (UNAUTHORIZED: authentication required)`,
      );
    });

    it("fails with wrong credentials, and never shows the password", async () => {
      const error = await init(team(ociSkill("report-writing", `${registry.host}/${repo}:v3`), PULL_SECRET), {
        SQUADRON_SECRET_GHCR_CREDS: dockerConfig(registry.host, "puller", "wrong-password-91"),
      }).catch((e: Error) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(
        `skill report-writing: pulling ${registry.host}/${repo}:v3 with the imagePullSecret "ghcr-creds" failed: ${refused}`,
      );
      expect((error as Error).message).not.toContain("wrong-password-91");
    });

    it("an identity token (docker's OAuth2 refresh token) works where the registry issues tokens", async () => {
      const config = JSON.stringify({
        auths: { [registry.host]: { identitytoken: REGISTRY_IDENTITY_TOKEN } },
      });
      const pull = init(team(ociSkill("report-writing", `${registry.host}/${repo}:v3`), PULL_SECRET), {
        SQUADRON_SECRET_GHCR_CREDS: config,
      });
      if (options.token) {
        const { skills } = await pull;
        expect(readFileSync(path.join(skills, "report-writing", "SKILL.md"), "utf8")).toBe(SKILL_MD);
      } else {
        // A Basic realm has no use for a refresh token: the registry's refusal is the answer.
        await expect(pull).rejects.toThrow("GET manifest v3 answered 401 Unauthorized");
      }
    });

    it("does not send the registry's credentials where it redirects a blob (another origin)", async () => {
      const front = await startRedirectingFront(registry);
      try {
        const { skills } = await init(
          team(ociSkill("report-writing", `${front.host}/${repo}:v3`), PULL_SECRET),
          {
            SQUADRON_SECRET_GHCR_CREDS: dockerConfig(front.host),
          },
        );
        expect(readFileSync(path.join(skills, "report-writing", "SKILL.md"), "utf8")).toBe(SKILL_MD);
        // The layer went through the storage, which saw no Authorization header.
        expect(front.storageAuthorizations).toEqual([""]);
      } finally {
        await front.stop();
      }
    });

    it("says so when the pull secret has no credentials for the skill's registry", async () => {
      await expect(
        init(team(ociSkill("report-writing", `${registry.host}/${repo}:v3`), PULL_SECRET), {
          SQUADRON_SECRET_GHCR_CREDS: dockerConfig("ghcr.io"),
        }),
      ).rejects.toThrow(
        `skill report-writing: pulling ${registry.host}/${repo}:v3 anonymously (the imagePullSecret "ghcr-creds" has no credentials for ${registry.host}) failed: GET manifest v3 answered 401 Unauthorized`,
      );
    });

    it("fails before pulling when the runner was not given the pull secret", async () => {
      await expect(
        init(team(ociSkill("report-writing", `${registry.host}/${repo}:v3`), PULL_SECRET)),
      ).rejects.toThrow(
        /the imagePullSecret "ghcr-creds" of skills from OCI was not given to the runner: it reads it from SQUADRON_SECRET_GHCR_CREDS/,
      );
    });
  });
});
