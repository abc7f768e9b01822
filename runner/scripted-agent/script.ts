import { readFile } from "node:fs/promises";
import { agentScriptSchema, type ScriptStep, scriptStepSchema } from "../../core/manifest/agent-script.ts";

// The step schema lives in core so manifest validation checks scripts with field paths.
export { type ScriptStep, scriptStepSchema };
export const scriptSchema = agentScriptSchema;

export function parseScript(value: unknown, source = "script"): ScriptStep[] {
  const steps =
    value && typeof value === "object" && !Array.isArray(value) && "steps" in value
      ? (value as { steps: unknown }).steps
      : value;
  const parsed = scriptSchema.safeParse(steps);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
      .join("; ");
    throw new Error(`Invalid scripted-agent ${source}: ${problems}`);
  }
  return parsed.data;
}

export async function loadScriptFile(path: string): Promise<ScriptStep[]> {
  let raw: string;
  try {
    raw = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`Cannot read the scripted agent's script ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new Error(`The scripted agent's script ${path} is not JSON: ${(err as Error).message}`);
  }
  return parseScript(value, `script ${path}`);
}
