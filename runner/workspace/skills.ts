import { mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { SkillSpec } from "../../core/manifest/types.ts";
import { configMapLocation, type ObjectStore, parseS3Location } from "../../core/run-files/object-store.ts";

const SKILL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

/** Writes each skill as `<cwd>/.claude/skills/<name>/SKILL.md` (plus any files its source has). */
export async function materialiseSkills(
  cwd: string,
  skills: SkillSpec[],
  options: { namespace: string; store?: ObjectStore },
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
    const { inline, configMap, s3Prefix } = skill.source;
    if (inline !== undefined) {
      await writeFile(path.join(dir, "SKILL.md"), inline);
    } else {
      const location = configMap
        ? configMapLocation(options.namespace, configMap)
        : s3Prefix
          ? parseS3Location(s3Prefix)
          : undefined;
      if (!location) throw new Error(`skill ${skill.name} has no source (inline, configMap or s3Prefix)`);
      if (!options.store)
        throw new Error(`skill ${skill.name} comes from an object store but none is configured`);
      await options.store.download(location, dir);
      const hasSkill = await stat(path.join(dir, "SKILL.md")).then(
        () => true,
        () => false,
      );
      if (!hasSkill)
        throw new Error(`skill ${skill.name}: ${options.store.describe(location)} has no SKILL.md`);
    }
    written.push(path.join(dir, "SKILL.md"));
  }
  return written;
}
