import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { imagePullSecretName, mcpSecretVariable } from "../../core/control/team-secrets.ts";
import type { AgentTeam, SkillSpec } from "../../core/manifest/types.ts";
import { configMapLocation, type ObjectStore, parseS3Location } from "../../core/run-files/object-store.ts";
import { pullAuthText, pullOciSkill } from "./oci-skill.ts";

const SKILL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/** Writes each skill as `<cwd>/.claude/skills/<name>/SKILL.md` (plus any files its source has). */
export async function materialiseSkills(
  cwd: string,
  skills: SkillSpec[],
  options: {
    namespace: string;
    store?: ObjectStore;
    /** The team's first imagePullSecret and its dockerconfigjson, for `source.oci` skills. */
    pullSecret?: { secret: string; value: string };
  },
): Promise<string[]> {
  const written: string[] = [];
  for (const skill of skills) {
    if (!SKILL_NAME.test(skill.name)) {
      throw new Error(
        `skill name ${JSON.stringify(skill.name)} must be a single path segment (letters, digits, . _ -)`,
      );
    }
    const dir = path.join(cwd, ".claude", "skills", skill.name);
    await mkdir(dir, { recursive: true });
    const { inline, configMap, s3Prefix, oci } = skill.source;
    if (inline !== undefined) {
      await writeFile(path.join(dir, "SKILL.md"), inline);
    } else if (oci !== undefined) {
      // A retried init starts the skill afresh: nothing of an earlier, partial pull stays.
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir);
      const pull = options.pullSecret ? { dockerConfig: options.pullSecret } : {};
      try {
        await pullOciSkill(oci, dir, pull);
      } catch (error) {
        throw new Error(
          `skill ${skill.name}: pulling ${oci} ${pullAuthText(oci, pull)} failed: ${(error as Error).message}`,
        );
      }
      if (!(await exists(path.join(dir, "SKILL.md")))) {
        throw new Error(
          `skill ${skill.name}: the OCI artifact ${oci} has no SKILL.md at its top (publish the skill's directory from inside it: oras push <ref> .)`,
        );
      }
    } else {
      const location = configMap
        ? configMapLocation(options.namespace, configMap)
        : s3Prefix
          ? parseS3Location(s3Prefix)
          : undefined;
      if (!location)
        throw new Error(`skill ${skill.name} has no source (inline, configMap, s3Prefix or oci)`);
      if (!options.store)
        throw new Error(`skill ${skill.name} comes from an object store but none is configured`);
      await options.store.download(location, dir);
      if (!(await exists(path.join(dir, "SKILL.md"))))
        throw new Error(`skill ${skill.name}: ${options.store.describe(location)} has no SKILL.md`);
    }
    written.push(path.join(dir, "SKILL.md"));
  }
  return written;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * The dockerconfigjson of the team's imagePullSecret (the first listed, when a skill is pulled
 * from OCI), from the runner's environment: ECS injects it from Secrets Manager as
 * SQUADRON_SECRET_<NAME> (core/control/team-secrets.ts), the local stack passes its own variable of
 * that name on. Absent from the environment is an error naming the variable, never an anonymous pull.
 */
export function imagePullSecretValue(
  team: AgentTeam,
  env: NodeJS.ProcessEnv,
): { secret: string; value: string } | undefined {
  const secret = imagePullSecretName(team);
  if (!secret) return undefined;
  const variable = mcpSecretVariable(secret);
  const value = env[variable];
  if (value === undefined || value === "") {
    throw new Error(
      `the imagePullSecret "${secret}" of skills from OCI was not given to the runner: it reads it from ${variable} (AWS: the team secret <teamSecretPrefix>/<namespace>/${secret}; locally: that variable in the environment of npm start)`,
    );
  }
  return { secret, value };
}
