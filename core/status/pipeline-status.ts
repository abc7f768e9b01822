import { stageGateEvent, stagesInOrder } from "../manifest/pipeline.ts";
import type { TeamSpec } from "../manifest/types.ts";
import type { TeamStatus } from "./types.ts";

/**
 * A pipeline's status, derived from its teammates' phases and its gates at read time, so it can
 * never disagree with them: kagents' `status.pipeline` (currentStage, per-stage phase, teammates
 * ready, started and completed times).
 */

export type StagePhase = "Pending" | "PendingApproval" | "Running" | "Succeeded" | "Failed";

export interface StageStatusView {
  name: string;
  phase: StagePhase;
  teammates: string[];
  dependsOn: string[];
  fan: "parallel" | "merge";
  approvalRequired: boolean;
  /** `stage-<name>` when the stage requires approval. */
  gate: string | null;
  gateState: string | null;
  /** kagents' READY: running plus succeeded teammates, out of the stage's. */
  ready: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface PipelineStatusView {
  /** The first stage (upstream first) that is running or waiting for approval, else the first not done. */
  currentStage: string | null;
  stages: StageStatusView[];
}

const ACTIVE = new Set(["Starting", "Running"]);

export function pipelineStatus(
  spec: Pick<TeamSpec, "pipeline">,
  status: TeamStatus,
): PipelineStatusView | null {
  if (!spec.pipeline) return null;
  const stages = stagesInOrder(spec).map((stage): StageStatusView => {
    const agents = stage.teammates.map((name) => status.agents[name]);
    const phases = agents.map((a) => a?.phase ?? "Pending");
    const gate = stage.approvalRequired ? stageGateEvent(stage.name) : null;
    const gateState = gate ? (status.gates[gate]?.state ?? "Pending") : null;
    let phase: StagePhase = "Pending";
    if (phases.some((p) => p === "Failed" || p === "Stopped")) phase = "Failed";
    else if (phases.every((p) => p === "Succeeded")) phase = "Succeeded";
    else if (phases.some((p) => ACTIVE.has(p) || p === "Succeeded")) phase = "Running";
    else if (phases.some((p) => p === "PendingApproval")) phase = "PendingApproval";
    const started = agents
      .map((a) => a?.startedAt)
      .filter((t): t is string => t !== undefined)
      .sort();
    const finished = agents
      .map((a) => a?.finishedAt)
      .filter((t): t is string => t !== undefined)
      .sort();
    const ready = phases.filter((p) => ACTIVE.has(p) || p === "Succeeded").length;
    return {
      name: stage.name,
      phase,
      teammates: [...stage.teammates],
      dependsOn: [...stage.dependsOn],
      fan: stage.fan,
      approvalRequired: stage.approvalRequired,
      gate,
      gateState,
      ready: `${ready}/${stage.teammates.length}`,
      startedAt: started[0] ?? null,
      completedAt: phase === "Succeeded" || phase === "Failed" ? (finished.at(-1) ?? null) : null,
    };
  });
  const active = stages.find((s) => s.phase === "Running" || s.phase === "PendingApproval");
  const open = stages.find((s) => s.phase !== "Succeeded");
  return { currentStage: (active ?? open)?.name ?? null, stages };
}
