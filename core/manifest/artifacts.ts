import type { AgentSpec, ArtifactInput, ArtifactOutput, TeamSpec } from "./types.ts";

/**
 * kagents v0.8 artifact routing (`teammates[].outputs[]` / `inputs[]`), as kagents defines it
 * (amcheste/kagents api/v1alpha1/agentteam_types.go, OutputSpec / InputSpec): an output's `path`
 * is the file the producer writes; an input names the producer (`from`) and the **basename** of
 * one of its output paths (`artifact`), and the consumer sees it at `{mountPath}/{artifact}`.
 *
 * Paths are container paths as kagents' pods see them. Squadron maps them the way it maps every
 * `/workspace` mount (core/run-files/layout.ts mountPathInWorkspace): `/workspace/x` and `x` are
 * `x` under the agent's working directory (the shared workspace of a cowork run). Anything else
 * (another absolute path, `..`, a backslash) is refused at validation.
 */

const WORKSPACE = "/workspace";

/** `/workspace/a/b` or `a/b` → `a/b`; `/workspace` → ""; undefined for any other or unsafe path. */
export function workspaceRelativePath(value: string): string | undefined {
  if (value.includes("\\") || value.includes("\0") || /^\s|\s$/.test(value)) return undefined;
  let rest: string;
  if (value === WORKSPACE || value === `${WORKSPACE}/`) rest = "";
  else if (value.startsWith(`${WORKSPACE}/`)) rest = value.slice(WORKSPACE.length + 1);
  else if (value.startsWith("/")) return undefined;
  else rest = value;
  const parts = rest.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.some((part) => part === "..")) return undefined;
  return parts.join("/");
}

/** The artifact name of an output: its path's basename (kagents' `artifact`). */
export function artifactName(output: Pick<ArtifactOutput, "path">): string {
  const relative = workspaceRelativePath(output.path) ?? output.path;
  return relative.split("/").filter(Boolean).at(-1) ?? "";
}

/** The producer's output an input names, if any. */
export function producerOutput(
  spec: Pick<TeamSpec, "teammates">,
  input: ArtifactInput,
): ArtifactOutput | undefined {
  const producer = spec.teammates.find((t) => t.name === input.from);
  return producer?.outputs?.find((output) => artifactName(output) === input.artifact);
}

/** Where an input is staged, relative to the consumer's working directory: `<mountPath>/<artifact>`. */
export function stagedRelativePath(input: ArtifactInput): string {
  const dir = workspaceRelativePath(input.mountPath) ?? "";
  return dir === "" ? input.artifact : `${dir}/${input.artifact}`;
}

/** The producers an agent's inputs name: implicit dependencies (kagents: "From … implicit dependency"). */
export function inputProducers(agent: Pick<AgentSpec, "inputs">): string[] {
  return [...new Set((agent.inputs ?? []).map((input) => input.from))];
}
