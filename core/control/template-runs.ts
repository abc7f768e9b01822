import { mergeTemplateRun } from "../manifest/merge.ts";
import type { ManifestOptions } from "../manifest/options.ts";
import type { AgentTeam, AgentTeamRun } from "../manifest/types.ts";
import type { ControlDeps } from "./deps.ts";

/**
 * An AgentTeamRun → the team it runs: its template, looked up in the run's namespace, merged with
 * it by kagents' rules and validated as a team (ManifestError). A missing template is the store's
 * NotFoundError. `POST teams`, `POST templates/{name}/runs` and every schedule fire
 * (core/schedules/fire.ts) go through here, then through createTeamRun.
 */
export async function teamFromRun(
  deps: Pick<ControlDeps, "store">,
  run: AgentTeamRun,
  options: ManifestOptions,
): Promise<AgentTeam> {
  const namespace = run.metadata.namespace;
  const template = await deps.store.getTemplate(namespace, run.spec.templateRef.name);
  return mergeTemplateRun(template.template, run, { ...options, namespace });
}
