import { randomUUID } from "node:crypto";
import { ManifestError } from "./issues.ts";
import type { ManifestOptions } from "./options.ts";
import type { AgentCli, AgentTeam, PermissionMode, RepositorySpec, ScriptStep } from "./types.ts";
import { SQUADRON_API_VERSION } from "./types.ts";
import { normalizeResource } from "./validate.ts";
import { describeValue } from "./zod-issues.ts";

export interface TaskTeamOptions extends ManifestOptions {
  /** Team name; defaults to `task-` and 8 random hex digits. */
  name?: string;
  namespace?: string;
  model?: string;
  cli?: AgentCli;
  permissionMode?: PermissionMode;
  /** A repository makes it a coding team; without one it is a cowork team with an empty workspace. */
  repository?: Partial<RepositorySpec> & { url: string };
  timeout?: string;
  budgetLimit?: number | string;
  script?: ScriptStep[];
}

/**
 * A one-agent team (a lead, no teammates) for a plain task, as `POST /api/tasks {"task": "..."}`
 * runs it. Throws ManifestError when the task is empty or not a string, or the options are invalid.
 */
export function teamFromTask(task: unknown, options: TaskTeamOptions = {}): AgentTeam {
  if (typeof task !== "string") {
    throw ManifestError.single(
      "task",
      task === undefined
        ? 'The task is missing; send {"task": "..."}.'
        : `The task must be a string (found ${describeValue(task)}).`,
    );
  }
  if (task.trim() === "")
    throw ManifestError.single("task", "The task is empty; say what the agent should do.");
  const { maxPromptBytes, maxTeammates, defaults, ...rest } = options;
  const lifecycle =
    rest.timeout !== undefined || rest.budgetLimit !== undefined
      ? { timeout: rest.timeout, budgetLimit: rest.budgetLimit }
      : undefined;
  const manifest = {
    apiVersion: SQUADRON_API_VERSION,
    kind: "AgentTeam",
    metadata: { name: rest.name ?? `task-${randomUUID().slice(0, 8)}`, namespace: rest.namespace },
    spec: {
      ...(rest.repository ? { repository: rest.repository } : { workspace: {} }),
      lead: {
        prompt: task,
        model: rest.model,
        cli: rest.cli,
        permissionMode: rest.permissionMode,
        script: rest.script,
      },
      lifecycle,
    },
  };
  return normalizeResource(dropUndefined(manifest), { maxPromptBytes, maxTeammates, defaults }) as AgentTeam;
}

function dropUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropUndefined);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, dropUndefined(v)]),
  );
}
