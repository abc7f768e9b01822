import { inputProducers } from "./artifacts.ts";
import type { AgentSpec, AgentTeam, ApprovalGateSpec, PipelineStage, TeamSpec } from "./types.ts";

/**
 * kagents v0.8's `spec.pipeline` read as what Squadron already runs: stages become dependencies
 * of their teammates, and `approvalRequired` becomes the gate `stage-<name>` (kagents' event name).
 * Validation (rules.ts) guarantees known names, one stage per teammate and no cycle; these helpers
 * stay defensive anyway because they also run on stored teams.
 */

export const STAGE_GATE_PREFIX = "stage-";

export function stageGateEvent(stage: string): string {
  return `${STAGE_GATE_PREFIX}${stage}`;
}

type PipelineTeam = Pick<TeamSpec, "pipeline" | "teammates" | "lifecycle">;

export function stageOf(spec: Pick<TeamSpec, "pipeline">, agent: string): PipelineStage | undefined {
  return spec.pipeline?.stages.find((stage) => stage.teammates.includes(agent));
}

/** Stages in a topological order (upstream first), the manifest order kept among equals. */
export function stagesInOrder(spec: Pick<TeamSpec, "pipeline">): PipelineStage[] {
  const stages = spec.pipeline?.stages ?? [];
  const byName = new Map(stages.map((stage) => [stage.name, stage]));
  const out: PipelineStage[] = [];
  const seen = new Set<string>();
  const visit = (stage: PipelineStage) => {
    if (seen.has(stage.name)) return;
    seen.add(stage.name);
    for (const up of stage.dependsOn) {
      const upstream = byName.get(up);
      if (upstream) visit(upstream);
    }
    out.push(stage);
  };
  stages.forEach(visit);
  return out;
}

/** Every stage upstream of `stage`, transitively (an upstream stage may itself be reached twice). */
function upstreamStages(spec: Pick<TeamSpec, "pipeline">, stage: PipelineStage): PipelineStage[] {
  const byName = new Map((spec.pipeline?.stages ?? []).map((s) => [s.name, s]));
  const found = new Map<string, PipelineStage>();
  const queue = [...stage.dependsOn];
  while (queue.length > 0) {
    const name = queue.shift() as string;
    const upstream = byName.get(name);
    if (!upstream || found.has(name) || name === stage.name) continue;
    found.set(name, upstream);
    queue.push(...upstream.dependsOn);
  }
  return [...found.values()];
}

/**
 * The agents `agent` waits for: its own `dependsOn`, or, in a pipeline, every teammate of every
 * stage upstream of its own (transitively, so an upstream stage's success is never assumed
 * through a stage that happens to have been released by someone else); plus, in both cases, the
 * producers its artifact inputs name (kagents v0.8: "Inputs[].From still contributes regardless").
 */
export function effectiveDependsOn(spec: Pick<TeamSpec, "pipeline">, agent: AgentSpec): string[] {
  const names = new Set(agent.dependsOn);
  const stage = stageOf(spec, agent.name);
  if (stage)
    for (const upstream of upstreamStages(spec, stage)) for (const t of upstream.teammates) names.add(t);
  for (const producer of inputProducers(agent)) names.add(producer);
  names.delete(agent.name);
  return [...names];
}

/**
 * The teammate whose ApprovalGate state asks for and waits on a stage's gate (the stage's first
 * teammate): the store keeps one task token per gate, so one branch of the state machine holds
 * it; the stage's other teammates wait for the gate's decision in WaitForDependencies.
 */
export function isStageGateHolder(spec: Pick<TeamSpec, "pipeline">, agent: string): boolean {
  const stage = stageOf(spec, agent);
  return stage?.approvalRequired === true && stage.teammates[0] === agent;
}

/** The gate guarding the start of `agent`'s stage, when its stage requires approval. */
export function stageGateOf(spec: Pick<TeamSpec, "pipeline">, agent: string): string | undefined {
  const stage = stageOf(spec, agent);
  return stage?.approvalRequired ? stageGateEvent(stage.name) : undefined;
}

/**
 * Every approval gate of a team: the declared ones plus one per stage that requires approval. A
 * stage gate may be declared in `lifecycle.approvalGates` to choose its channel and approvers;
 * otherwise it is decided through the API (`squadron approve`), like kagents' annotation.
 */
export function allApprovalGates(spec: PipelineTeam): ApprovalGateSpec[] {
  const gates = [...spec.lifecycle.approvalGates];
  for (const stage of spec.pipeline?.stages ?? []) {
    if (!stage.approvalRequired) continue;
    const event = stageGateEvent(stage.name);
    if (!gates.some((gate) => gate.event === event)) gates.push({ event, channel: "api", approvers: [] });
  }
  return gates;
}

export function teamApprovalGates(team: AgentTeam): ApprovalGateSpec[] {
  return allApprovalGates(team.spec);
}
