import { BUCKET_AREAS, namespaceOutputArea } from "../bucket-layout.ts";
import { approvalAnnotationEvent } from "./approval-annotations.ts";
import { checkArtifacts } from "./artifact-rules.ts";
import { DEFAULTS } from "./defaults.ts";
import { findCycles } from "./graph.ts";
import { error, type IssuePath, type PathIssue, warning } from "./issues.ts";
import type { ResolvedOptions } from "./options.ts";
import { STAGE_GATE_PREFIX } from "./pipeline.ts";
import { pullSecretIssues } from "./pull-secret-rules.ts";
import { scheduleIssues } from "./schedule-rules.ts";

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
  const spec = asObject(raw.spec);
  if (
    raw.kind === "AgentTeam" ||
    raw.kind === "AgentTeamTemplate" ||
    raw.kind === "AgentTeamRun" ||
    raw.kind === "AgentTeamTrigger" ||
    raw.kind === "AgentTeamSchedule"
  ) {
    checkBucketPrefixes(spec, namespaceOf(raw, options.namespace), issues);
  }
  switch (raw.kind) {
    case "AgentTeam":
      checkRepositoryOrWorkspace(spec, issues, true);
      checkGitOnComplete(spec, issues);
      checkUnreadOnCompleteFields(spec, issues);
      checkAgents(spec, issues, options, true);
      checkHarness(spec, issues);
      checkApprovalAnnotations(raw, spec, issues);
      issues.push(...pullSecretIssues(spec));
      break;
    case "AgentTeamTemplate":
      checkAgents(spec, issues, options, false);
      break;
    // A trigger holds the run fields of the runs it creates: the same rules, and a secret.
    case "AgentTeamRun":
    case "AgentTeamTrigger":
      if (raw.kind === "AgentTeamTrigger") checkTriggerSecret(spec, issues);
      checkRepositoryOrWorkspace(spec, issues, false);
      checkPrompt(spec.lead, ["spec", "lead"], issues, options);
      break;
    case "AgentTeamSchedule":
      checkRepositoryOrWorkspace(spec, issues, false);
      checkPrompt(spec.lead, ["spec", "lead"], issues, options);
      issues.push(...scheduleIssues(raw));
      break;
  }
  return issues;
}

/**
 * kagents skips HMAC validation when a trigger names no secret; Squadron's webhook route is
 * public, so such a trigger would let anyone start runs: refused, never accepted unsigned.
 */
function checkTriggerSecret(spec: Raw, issues: PathIssue[]): void {
  const webhook = asObject(asObject(spec.trigger).webhook);
  if (isObject(asObject(spec.trigger).webhook) && webhook.secret === undefined) {
    issues.push(
      error(
        ["spec", "trigger", "webhook", "secret"],
        "trigger.webhook.secret is required: Squadron's webhook route is public and verifies every request's X-Hub-Signature-256 with the key hmac-secret of this secret (kagents' unsigned mode, without a secret, is not supported).",
      ),
    );
  }
}

/**
 * create-pr and push-branch push the merged teammates' branches of the team's repository; a cowork
 * team has none, so it would complete without doing what it asked. Refused instead (a run of a
 * template is checked once merged, as a team).
 */
function checkGitOnComplete(spec: Raw, issues: PathIssue[]): void {
  const onComplete = asObject(spec.lifecycle).onComplete;
  const cowork = (spec.repository === undefined || spec.repository === null) && isObject(spec.workspace);
  if (cowork && (onComplete === "create-pr" || onComplete === "push-branch")) {
    issues.push(
      error(
        ["spec", "lifecycle", "onComplete"],
        `onComplete "${onComplete}" needs spec.repository: it pushes the teammates' merged branch, and a cowork team (spec.workspace) has none. Its outputs go to Squadron's bucket; use "notify", "deliver" (lifecycle.delivery) or "none".`,
      ),
    );
  }
}

/**
 * kagents reads pullRequest and prTitleTemplate only for create-pr, consolidatedBranchTemplate only
 * for push-branch and create-pr (agentteam_types.go); Squadron too. Set beside another onComplete
 * they do nothing: a warning says so rather than keeping quiet (not an error: kagents accepts them,
 * and a template's lifecycle may carry them for its runs).
 */
function checkUnreadOnCompleteFields(spec: Raw, issues: PathIssue[]): void {
  const lifecycle = asObject(spec.lifecycle);
  const onComplete = typeof lifecycle.onComplete === "string" ? lifecycle.onComplete : DEFAULTS.onComplete;
  const unread = (field: string, readBy: string[], effect: string) => {
    if (lifecycle[field] === undefined || readBy.includes(onComplete)) return;
    issues.push(
      warning(
        ["spec", "lifecycle", field],
        `${field} is read only with onComplete ${readBy.map((a) => `"${a}"`).join(" or ")} (this team's is "${onComplete}"): ${effect}.`,
      ),
    );
  };
  unread("pullRequest", ["create-pr"], "no pull request is opened");
  unread("prTitleTemplate", ["create-pr"], "no pull request is opened");
  unread("consolidatedBranchTemplate", ["push-branch", "create-pr"], "no branch is pushed");
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

  const { stages, gatedMembers } = checkPipeline(spec, teammateIndex, issues);
  checkArtifacts(spec, teammateIndex, leadName, edges, knownNames(teammateIndex), issues);
  checkApprovalGates(asObject(spec.lifecycle), teammateIndex, issues, ["spec", "lifecycle"], stages);
  checkSpawnGatesInGatedStages(asObject(spec.lifecycle), gatedMembers, issues);
}

/**
 * kagents v0.8's `spec.pipeline`: stage names unique DNS labels, each teammate in at most one
 * stage, upstream stages that exist, no cycle, and no teammate `dependsOn` beside it (two
 * orderings of the same teammates would contradict each other). Returns whether each valid stage
 * requires approval, for the gate rules.
 */
function checkPipeline(
  spec: Raw,
  teammateIndex: ReadonlyMap<string, number>,
  issues: PathIssue[],
): { stages: Map<string, boolean>; gatedMembers: Map<string, string> } {
  const stages = new Map<string, boolean>();
  const gatedMembers = new Map<string, string>();
  if (spec.pipeline === undefined || spec.pipeline === null) return { stages, gatedMembers };
  const base = ["spec", "pipeline"];
  asArray(spec.teammates).forEach((teammate, i) => {
    const dependsOn = asObject(teammate).dependsOn;
    if (Array.isArray(dependsOn) && dependsOn.length > 0) {
      issues.push(
        error(
          ["spec", "teammates", i, "dependsOn"],
          "spec.pipeline and spec.teammates[].dependsOn are mutually exclusive: order teammates with pipeline stages or with dependsOn, not both.",
        ),
      );
    }
  });
  const rawStages = asArray(asObject(spec.pipeline).stages);
  const stageIndex = new Map<string, number>();
  rawStages.forEach((stage, i) => {
    const name = asObject(stage).name;
    if (typeof name !== "string") return;
    const earlier = stageIndex.get(name);
    if (earlier !== undefined) {
      issues.push(
        error([...base, "stages", i, "name"], `The stage "${name}" is already defined (stages[${earlier}]).`),
      );
    } else {
      stageIndex.set(name, i);
      stages.set(name, asObject(stage).approvalRequired === true);
    }
  });
  const member = new Map<string, string>();
  const edges = new Map<string, string[]>();
  rawStages.forEach((rawStage, i) => {
    const stage = asObject(rawStage);
    const name = typeof stage.name === "string" ? stage.name : `stages[${i}]`;
    asArray(stage.teammates).forEach((teammate, j) => {
      if (typeof teammate !== "string") return;
      const path = [...base, "stages", i, "teammates", j];
      const earlier = member.get(teammate);
      if (!teammateIndex.has(teammate)) {
        issues.push(
          error(
            path,
            `"${teammate}" names no teammate of this team${knownNames(teammateIndex)}; the lead is never in a stage (it coordinates every stage).`,
          ),
        );
      } else if (earlier !== undefined) {
        issues.push(
          error(
            path,
            earlier === name
              ? `"${teammate}" is listed twice in stage "${name}".`
              : `"${teammate}" is already in stage "${earlier}"; a teammate belongs to at most one stage.`,
          ),
        );
      } else {
        member.set(teammate, name);
        if (stage.approvalRequired === true) gatedMembers.set(teammate, name);
      }
    });
    const valid: string[] = [];
    asArray(stage.dependsOn).forEach((upstream, j) => {
      if (typeof upstream !== "string") return;
      const path = [...base, "stages", i, "dependsOn", j];
      if (upstream === stage.name) issues.push(error(path, "A stage cannot depend on itself."));
      else if (!stageIndex.has(upstream)) {
        const known = [...stageIndex.keys()];
        issues.push(
          error(
            path,
            `"${upstream}" names no stage of this pipeline (stages: ${known.join(", ") || "none"}).`,
          ),
        );
      } else valid.push(upstream);
    });
    if (typeof stage.name === "string" && stageIndex.get(stage.name) === i) edges.set(stage.name, valid);
  });
  for (const cycle of findCycles([...stageIndex.keys()], edges)) {
    issues.push(
      error(
        [...base, "stages", stageIndex.get(cycle[0]!)!, "dependsOn"],
        `Stage cycle: ${cycle.join(" → ")}; none of these stages could ever start.`,
      ),
    );
  }
  return { stages, gatedMembers };
}

/**
 * A teammate of a stage that requires approval already waits for the gate `stage-<name>`; a
 * `spawn-<teammate>` gate on top would be a second approval of the same start, which Squadron
 * does not model (each agent passes one gate): rejected rather than half honoured.
 */
function checkSpawnGatesInGatedStages(
  lifecycle: Raw,
  gatedMembers: ReadonlyMap<string, string>,
  issues: PathIssue[],
): void {
  asArray(lifecycle.approvalGates).forEach((gate, i) => {
    const event = asObject(gate).event;
    if (typeof event !== "string" || !event.startsWith("spawn-")) return;
    const teammate = event.slice("spawn-".length);
    const stage = gatedMembers.get(teammate);
    if (stage === undefined) return;
    issues.push(
      error(
        ["spec", "lifecycle", "approvalGates", i, "event"],
        `"${teammate}" is in stage "${stage}", which requires approval (gate ${STAGE_GATE_PREFIX}${stage}); a second gate ${event} on the same start is not supported. Keep one of them.`,
      ),
    );
  });
}

/**
 * `approved.kagents.dev/<event>` (and the older prefix) must name a gate of this team and say
 * "true" or "false": a typo must not leave a stage waiting while the user thinks it is approved.
 */
function checkApprovalAnnotations(raw: Raw, spec: Raw, issues: PathIssue[]): void {
  const annotations = asObject(asObject(raw.metadata).annotations);
  const gates = new Set<string>();
  for (const gate of asArray(asObject(spec.lifecycle).approvalGates)) {
    const event = asObject(gate).event;
    if (typeof event === "string") gates.add(event);
  }
  for (const stage of asArray(asObject(spec.pipeline).stages)) {
    const { name, approvalRequired } = asObject(stage);
    if (typeof name === "string" && approvalRequired === true) gates.add(`${STAGE_GATE_PREFIX}${name}`);
  }
  for (const [key, value] of Object.entries(annotations)) {
    const event = approvalAnnotationEvent(key);
    if (event === undefined) continue;
    const path = ["metadata", "annotations", key];
    if (value !== "true" && value !== "false") {
      issues.push(
        error(
          path,
          `An approval annotation is "true" (approve ${event}) or "false"; found ${JSON.stringify(value)}.`,
        ),
      );
    } else if (!gates.has(event)) {
      issues.push(
        error(
          path,
          `"${event}" is not an approval gate of this team (gates: ${[...gates].join(", ") || "none"}).`,
        ),
      );
    }
  }
}

/** kagents' `spec.harness: claude-code` runs every agent with Claude Code; another CLI contradicts it. */
function checkHarness(spec: Raw, issues: PathIssue[]): void {
  if (spec.harness !== "claude-code") return;
  const agents: Array<[unknown, IssuePath]> = [[spec.lead, ["spec", "lead"]]];
  asArray(spec.teammates).forEach((teammate, i) => {
    agents.push([teammate, ["spec", "teammates", i]]);
  });
  for (const [agent, path] of agents) {
    const cli = asObject(agent).cli;
    if (cli !== undefined && cli !== "claude") {
      issues.push(
        error(
          [...path, "cli"],
          `cli ${JSON.stringify(cli)} contradicts spec.harness "claude-code", which runs every agent with cli: claude; remove one of them.`,
        ),
      );
    }
  }
}

/** The namespace the resource will be stored in: its own, else the caller's (the API path), else "default". */
function namespaceOf(raw: Raw, fallback: string | undefined): string {
  const namespace = asObject(raw.metadata).namespace;
  return typeof namespace === "string" && namespace !== "" ? namespace : (fallback ?? DEFAULTS.namespace);
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
  stages: ReadonlyMap<string, boolean> = new Map(),
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
    if (event.startsWith(STAGE_GATE_PREFIX) && stages.size > 0) {
      const stage = event.slice(STAGE_GATE_PREFIX.length);
      if (!stages.has(stage)) {
        issues.push(
          error(
            path,
            `The event "${event}" names no stage: "${stage}" is not in spec.pipeline.stages (stages: ${[...stages.keys()].join(", ")}).`,
          ),
        );
      } else if (!stages.get(stage)) {
        issues.push(
          error(
            path,
            `The stage "${stage}" does not require approval; set approvalRequired: true on it to gate it, or remove this gate.`,
          ),
        );
      }
    } else if (!event.startsWith("spawn-")) {
      issues.push(
        error(
          path,
          `The event "${event}" is not a gate event; write spawn-<teammate>, e.g. "spawn-reviewer"${stages.size > 0 ? `, or stage-<stage>` : ""}.`,
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
