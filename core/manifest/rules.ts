import { BUCKET_AREAS, namespaceOutputArea } from "../bucket-layout.ts";
import { DEFAULTS } from "./defaults.ts";
import { findCycles } from "./graph.ts";
import { error, type IssuePath, type PathIssue, warning } from "./issues.ts";
import type { ResolvedOptions } from "./options.ts";
import { KAGENTS_DEV_API_VERSION } from "./schema.ts";

/**
 * Rules across fields. They read the raw input defensively (anything may have the wrong type:
 * the schema reports that), so a manifest with shape errors still gets these checks too and the
 * user sees every problem in one go.
 */

type Raw = Record<string, unknown>;

const isObject = (value: unknown): value is Raw =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const asObject = (value: unknown): Raw => (isObject(value) ? value : {});

interface NamedAgent {
  name: string;
  path: IssuePath;
}

export function checkResourceRules(raw: Raw, options: ResolvedOptions): PathIssue[] {
  const issues: PathIssue[] = [];
  if (raw.apiVersion === KAGENTS_DEV_API_VERSION) {
    issues.push(
      warning(
        ["apiVersion"],
        `"${KAGENTS_DEV_API_VERSION}" is read as kagents' "claude.amcheste.io/v1alpha1".`,
      ),
    );
  }
  const spec = asObject(raw.spec);
  if (raw.kind === "AgentTeam" || raw.kind === "AgentTeamTemplate" || raw.kind === "AgentTeamRun") {
    checkBucketPrefixes(spec, namespaceOf(raw), issues);
  }
  switch (raw.kind) {
    case "AgentTeam":
      checkRepositoryOrWorkspace(spec, issues, true);
      checkAgents(spec, issues, options, true);
      break;
    case "AgentTeamTemplate":
      checkAgents(spec, issues, options, false);
      break;
    case "AgentTeamRun":
      checkRepositoryOrWorkspace(spec, issues, false);
      checkPrompt(spec.lead, ["spec", "lead"], issues, options);
      break;
  }
  return issues;
}

function checkRepositoryOrWorkspace(spec: Raw, issues: PathIssue[], hasMode: boolean): void {
  const hasRepository = spec.repository !== undefined && spec.repository !== null;
  const hasWorkspace = spec.workspace !== undefined && spec.workspace !== null;
  if (hasRepository && hasWorkspace) {
    issues.push(
      error(
        ["spec"],
        "Set exactly one of spec.repository (a coding team) or spec.workspace (a cowork team); both are set.",
      ),
    );
  } else if (!hasRepository && !hasWorkspace) {
    issues.push(
      error(
        ["spec"],
        "Set exactly one of spec.repository (a coding team) or spec.workspace (a cowork team); neither is set.",
      ),
    );
  } else if (hasMode && (spec.mode === "coding" || spec.mode === "cowork")) {
    const expected = hasRepository ? "coding" : "cowork";
    if (spec.mode !== expected) {
      issues.push(
        error(
          ["spec", "mode"],
          `The mode is "${spec.mode}" but the team has a ${hasRepository ? "repository" : "workspace"}, which makes it "${expected}".`,
        ),
      );
    }
  }
}

/**
 * Every dependsOn entry travels in the execution's state (Prepare's agent list), which Step
 * Functions caps at 256 KiB with no Catch possible; test/state-machines/state-size.test.ts checks
 * a 100-agent team at this limit stays well under it.
 */
export const MAX_DEPENDS_ON_ENTRIES = 1000;

function checkAgents(spec: Raw, issues: PathIssue[], options: ResolvedOptions, hasLead: boolean): void {
  const teammates = asArray(spec.teammates);
  if (teammates.length > options.maxTeammates) {
    issues.push(
      error(
        ["spec", "teammates"],
        `The team has ${teammates.length} teammates; at most ${options.maxTeammates} are allowed.`,
      ),
    );
  }

  const agents: NamedAgent[] = [];
  if (hasLead && isObject(spec.lead)) {
    const name = spec.lead.name === undefined ? "lead" : spec.lead.name;
    if (typeof name === "string") agents.push({ name, path: ["spec", "lead"] });
    checkPrompt(spec.lead, ["spec", "lead"], issues, options);
  }
  if (!hasLead && isObject(spec.lead)) checkPrompt(spec.lead, ["spec", "lead"], issues, options);

  const teammateIndex = new Map<string, number>();
  teammates.forEach((teammate, i) => {
    if (!isObject(teammate)) return;
    checkPrompt(teammate, ["spec", "teammates", i], issues, options);
    if (typeof teammate.name !== "string") return;
    const earlier = agents.find((agent) => agent.name === teammate.name);
    if (earlier) {
      const where =
        earlier.path.length === 2 ? "the lead (spec.lead)" : `spec.teammates[${String(earlier.path[2])}]`;
      issues.push(
        error(["spec", "teammates", i, "name"], `The name "${teammate.name}" is already used by ${where}.`),
      );
    } else {
      agents.push({ name: teammate.name, path: ["spec", "teammates", i] });
      teammateIndex.set(teammate.name, i);
    }
  });

  const leadName = agents.find((agent) => agent.path.length === 2)?.name;
  const edges = new Map<string, string[]>();
  teammates.forEach((teammate, i) => {
    if (!isObject(teammate) || !Array.isArray(teammate.dependsOn)) return;
    const valid: string[] = [];
    teammate.dependsOn.forEach((dependency, j) => {
      const path = ["spec", "teammates", i, "dependsOn", j];
      if (typeof dependency !== "string") return;
      if (dependency === teammate.name) issues.push(error(path, "A teammate cannot depend on itself."));
      else if (dependency === leadName || (hasLead && dependency === "lead" && leadName === undefined)) {
        issues.push(
          error(path, "A teammate cannot depend on the lead: the lead finishes after every teammate."),
        );
      } else if (!teammateIndex.has(dependency)) {
        issues.push(
          error(path, `"${dependency}" names no teammate of this team${knownNames(teammateIndex)}.`),
        );
      } else valid.push(dependency);
    });
    // Only the first teammate of a duplicated name takes part in the graph; the duplicate is reported.
    if (typeof teammate.name === "string" && teammateIndex.get(teammate.name) === i)
      edges.set(teammate.name, valid);
  });

  const entries = [...edges.values()].reduce((n, deps) => n + deps.length, 0);
  if (entries > MAX_DEPENDS_ON_ENTRIES) {
    issues.push(
      error(
        ["spec", "teammates"],
        `The teammates' dependsOn lists name ${entries} dependencies in all; at most ${MAX_DEPENDS_ON_ENTRIES} are allowed (each is carried in the run's Step Functions state, which is limited to 256 KiB).`,
      ),
    );
  }

  for (const cycle of findCycles([...teammateIndex.keys()], edges)) {
    const first = teammateIndex.get(cycle[0]!)!;
    issues.push(
      error(
        ["spec", "teammates", first, "dependsOn"],
        `Dependency cycle: ${cycle.join(" → ")}; none of these teammates could ever start.`,
      ),
    );
  }

  checkApprovalGates(asObject(spec.lifecycle), teammateIndex, issues);
}

function namespaceOf(raw: Raw): string {
  const namespace = asObject(raw.metadata).namespace;
  return typeof namespace === "string" && namespace !== "" ? namespace : DEFAULTS.namespace;
}

/**
 * A relative `s3Prefix` names Squadron's own bucket, shared by every team of a deployment, so it
 * may only point where the team is allowed: inputs and skills are read from `inputs/` (the runner's
 * read grant; a ConfigMap is named with `configMap`, scoped to the namespace), and outputs are
 * delivered under the namespace's own `outputs/<namespace>/` (core/bucket-layout.ts).
 */
function checkBucketPrefixes(spec: Raw, namespace: string, issues: PathIssue[]): void {
  const relative = (value: unknown): value is string =>
    typeof value === "string" && value !== "" && !value.startsWith("s3://");
  const readable = (value: string, path: IssuePath) => {
    if (!value.startsWith(BUCKET_AREAS.inputs)) {
      issues.push(
        error(
          path,
          `"${value}" is outside ${BUCKET_AREAS.inputs}: a relative prefix names Squadron's bucket, where runners read only ${BUCKET_AREAS.inputs} (name a ConfigMap with configMap, another bucket with s3://bucket/prefix/).`,
        ),
      );
    }
  };
  const workspace = asObject(spec.workspace);
  asArray(workspace.inputs).forEach((input, i) => {
    const prefix = asObject(input).s3Prefix;
    if (relative(prefix)) readable(prefix, ["spec", "workspace", "inputs", i, "s3Prefix"]);
  });
  const output = asObject(workspace.output).s3Prefix;
  const area = namespaceOutputArea(namespace);
  if (relative(output) && !output.startsWith(area)) {
    issues.push(
      error(
        ["spec", "workspace", "output", "s3Prefix"],
        `"${output}" is outside ${area}: in Squadron's bucket a team in namespace "${namespace}" delivers outputs only there (leave s3Prefix out for the run's own prefix, or use s3://bucket/prefix/ for another bucket).`,
      ),
    );
  }
  const agents: Array<[unknown, IssuePath]> = [[spec.lead, ["spec", "lead"]]];
  asArray(spec.teammates).forEach((teammate, i) => {
    agents.push([teammate, ["spec", "teammates", i]]);
  });
  for (const [agent, path] of agents) {
    asArray(asObject(agent).skills).forEach((skill, j) => {
      const prefix = asObject(asObject(skill).source).s3Prefix;
      if (relative(prefix)) readable(prefix, [...path, "skills", j, "source", "s3Prefix"]);
    });
  }
}

function knownNames(teammates: ReadonlyMap<string, number>): string {
  if (teammates.size === 0) return " (it has no teammates)";
  const names = [...teammates.keys()];
  return ` (teammates: ${names.slice(0, 10).join(", ")}${names.length > 10 ? ", ..." : ""})`;
}

export function checkApprovalGates(
  lifecycle: Raw,
  teammates: ReadonlyMap<string, number>,
  issues: PathIssue[],
  pathPrefix: IssuePath = ["spec", "lifecycle"],
): void {
  const seen = new Map<string, number>();
  asArray(lifecycle.approvalGates).forEach((gate, i) => {
    if (!isObject(gate) || typeof gate.event !== "string") return;
    const path = [...pathPrefix, "approvalGates", i, "event"];
    const event = gate.event;
    const earlier = seen.get(event);
    if (earlier !== undefined) {
      issues.push(error(path, `The event "${event}" already has a gate (approvalGates[${earlier}]).`));
      return;
    }
    seen.set(event, i);
    if (!event.startsWith("spawn-")) {
      issues.push(
        error(
          path,
          `The event "${event}" is not a gate event; write spawn-<teammate>, e.g. "spawn-reviewer".`,
        ),
      );
    } else if (!teammates.has(event.slice("spawn-".length))) {
      issues.push(
        error(
          path,
          `The event "${event}" names no teammate: "${event.slice("spawn-".length)}" is not in spec.teammates${knownNames(teammates)}.`,
        ),
      );
    }
  });
}

function checkPrompt(agent: unknown, path: IssuePath, issues: PathIssue[], options: ResolvedOptions): void {
  if (!isObject(agent) || typeof agent.prompt !== "string") return;
  const bytes = Buffer.byteLength(agent.prompt, "utf8");
  if (bytes > options.maxPromptBytes) {
    issues.push(
      error(
        [...path, "prompt"],
        `The prompt is ${bytes} bytes; the limit is ${options.maxPromptBytes} bytes${formatKiB(options.maxPromptBytes)}.`,
      ),
    );
  }
}

function formatKiB(bytes: number): string {
  if (bytes < 1024) return "";
  const kib = bytes / 1024;
  return ` (${Number.isInteger(kib) ? kib : kib.toFixed(1)} KiB)`;
}
