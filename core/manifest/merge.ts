import { ManifestError } from "./issues.ts";
import type { ManifestOptions } from "./options.ts";
import type { AgentSpec, AgentTeam, AgentTeamRun, AgentTeamTemplate } from "./types.ts";
import { validateResource } from "./validate.ts";

/** Annotation on a merged team naming the template it came from. */
export const TEMPLATE_ANNOTATION = "squadron.dev/template";

/**
 * Instantiates a template with a run, following kagents' rules: the template supplies the
 * teammates, their pipeline, coordination and quality gates; the run supplies auth, lead, repository or
 * workspace and observability; a run's lifecycle replaces the template's whole. The team is named
 * after the run. The result is validated as a team (a run's approval gate may name a teammate the
 * template lacks), and any problem is thrown as a ManifestError.
 */
export function mergeTemplateRun(
  template: AgentTeamTemplate,
  run: AgentTeamRun,
  options?: ManifestOptions,
): AgentTeam {
  if (run.spec.templateRef.name !== template.metadata.name) {
    throw ManifestError.single(
      "spec.templateRef.name",
      `The run refers to the template "${run.spec.templateRef.name}" but was merged with "${template.metadata.name}".`,
    );
  }
  const spec = structuredClone(run.spec);
  const team = {
    apiVersion: run.apiVersion,
    kind: "AgentTeam",
    metadata: {
      ...structuredClone(run.metadata),
      annotations: { ...run.metadata.annotations, [TEMPLATE_ANNOTATION]: template.metadata.name },
    },
    spec: {
      repository: spec.repository,
      workspace: spec.workspace,
      auth: spec.auth,
      imagePullSecrets: spec.imagePullSecrets,
      lead: mergeLead(spec.lead, template.spec.lead),
      teammates: structuredClone(template.spec.teammates),
      pipeline: structuredClone(template.spec.pipeline),
      coordination: structuredClone(template.spec.coordination),
      lifecycle: spec.lifecycle ?? structuredClone(template.spec.lifecycle),
      qualityGates: structuredClone(template.spec.qualityGates),
      observability: spec.observability,
    },
  };
  const result = validateResource(team, options);
  if (!result.resource) {
    throw new ManifestError(
      result.issues,
      `The run "${run.metadata.name}" and the template "${template.metadata.name}" do not make a valid team: ${result.issues
        .filter((issue) => issue.severity === "error")
        .map((issue) => `${issue.path}: ${issue.message}`)
        .join("; ")}`,
    );
  }
  return result.resource as AgentTeam;
}

/**
 * The run's lead wins; the template's lead hints fill what the run left empty (scope, resources,
 * script, turn limit, skills and MCP servers). Model, CLI and permission mode always have a value
 * on the run's side once defaulted, so they come from the run.
 */
function mergeLead(lead: AgentSpec, hints: Partial<AgentSpec> | undefined): AgentSpec {
  if (!hints) return lead;
  const copy = structuredClone(hints);
  return {
    ...lead,
    scope: lead.scope ?? copy.scope,
    resources: lead.resources ?? copy.resources,
    script: lead.script ?? copy.script,
    maxTurns: lead.maxTurns ?? copy.maxTurns,
    skills: lead.skills.length > 0 ? lead.skills : (copy.skills ?? []),
    mcpServers: lead.mcpServers.length > 0 ? lead.mcpServers : (copy.mcpServers ?? []),
  };
}
