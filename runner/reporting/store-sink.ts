import { type TeammateProgress, teammateProgress } from "../../core/control/team-progress.ts";
import type { AgentPhase } from "../../core/status/phases.ts";
import { canTransitionAgent, isFinishedAgentPhase, isTerminalTeamPhase } from "../../core/status/phases.ts";
import type { ArtifactDelivery, ArtifactStatus, UsageDelta } from "../../core/status/types.ts";
import type { TeamRunRef, TeamStore, UsageCharge } from "../../core/store/index.ts";

/** The agent's charged totals in the store, and the run's cost (every agent). */
export interface ChargedUsage {
  agent: UsageDelta;
  totalCostUsd: number;
}

/** The store's answer to a charge (core/store/usage-charge.ts `ChargeResult`). */
export interface ChargeAnswer extends ChargedUsage {
  /** False when `before` was stale: nothing was charged, `agent` holds the stored totals. */
  charged: boolean;
}

/** TASKS/DONE of a run (`status.tasks`). */
export interface TaskCounts {
  total: number;
  done: number;
}

export interface PhaseDetails {
  reason?: string;
  message?: string;
  exitCode?: number;
}

/**
 * What the runner writes about one agent to the team state store. The session loop and the
 * reporters depend on this interface only, so a run without a store (local tests) uses
 * {@link NoStoreSink} and AWS uses {@link TeamStoreSink}.
 */
export interface AgentStateSink {
  /**
   * Moves the agent's charged totals from `charge.before` to `charge.after`, adding the
   * difference to the run's, exactly once however often it is sent (TeamStore.chargeUsage).
   * Undefined without a store: the charge is taken as made.
   */
  chargeUsage(charge: UsageCharge): Promise<ChargeAnswer | undefined>;
  /**
   * The agent's charged totals as stored (what earlier runners of the agent charged), read when
   * a runner starts. Absent, or undefined, without a store.
   */
  chargedUsage?(): Promise<ChargedUsage | undefined>;
  heartbeat(at: Date): Promise<void>;
  setPhase(phase: AgentPhase, details?: PhaseDetails): Promise<void>;
  /** Measured cost of the whole run so far, when known. */
  runCostUsd(): Promise<number | undefined>;
  /**
   * Agents the control plane has already ended (Succeeded, Failed, Stopped) — including ones
   * whose runner never started (a denied gate, a failed dependency) and so never wrote their
   * status to the team files. Absent without a store.
   */
  endedAgents?(): Promise<string[]>;
  /**
   * Where the run's teammates stand in the store (failed for good, never started, still live):
   * the lead's runner tells the lead and ends a team that cannot proceed. Absent without a store.
   */
  teammateProgress?(): Promise<TeammateProgress | undefined>;
  /**
   * Stores the run's task counts (the lead's runner only). The store is written only when they
   * differ from what it holds. Absent without a store.
   */
  setTaskCounts?(counts: TaskCounts): Promise<void>;
  /** Records a Warning event about this agent (a fallback, a hollow success). Absent without a store. */
  warn?(reason: string, message: string): Promise<void>;
  /** Adds (or replaces, by producer and name) this producer's artifacts in `status.artifacts`. */
  recordArtifacts?(artifacts: ArtifactStatus[]): Promise<void>;
  /** Records that an artifact was staged for this agent (a consumer). */
  recordDelivery?(producedBy: string, name: string, delivery: ArtifactDelivery): Promise<void>;
}

export class NoStoreSink implements AgentStateSink {
  async chargeUsage(): Promise<undefined> {
    return undefined;
  }
  async heartbeat(): Promise<void> {}
  async setPhase(): Promise<void> {}
  async runCostUsd(): Promise<undefined> {
    return undefined;
  }
}

/** The agent's record in the DynamoDB team state store (core/store). */
export class TeamStoreSink implements AgentStateSink {
  constructor(
    private readonly store: TeamStore,
    private readonly ref: TeamRunRef,
    private readonly agent: string,
    private readonly runId: string,
  ) {}

  /** Charges this run only (the ref carries the run id): a late runner never charges a newer run. */
  async chargeUsage(charge: UsageCharge): Promise<ChargeAnswer> {
    const result = await this.store.chargeUsage({ ...this.ref, runId: this.runId }, this.agent, charge);
    return { charged: result.charged, agent: result.agent, totalCostUsd: result.total.costUsd };
  }

  async chargedUsage(): Promise<ChargedUsage> {
    const stored = await this.store.chargedUsage({ ...this.ref, runId: this.runId }, this.agent);
    return { agent: stored.agent, totalCostUsd: stored.total.costUsd };
  }

  heartbeat(at: Date): Promise<void> {
    return this.store.heartbeat(this.ref, this.agent, at);
  }

  /**
   * Moves the agent to `phase` when the transition table allows it (Running from Pending goes
   * through Starting, as the state machine would). A finished run, another run under the same
   * team name, or a phase that cannot be reached any more leaves the record unchanged: a late
   * report must never move an agent backwards.
   */
  async setPhase(phase: AgentPhase, details: PhaseDetails = {}): Promise<void> {
    const at = new Date().toISOString();
    for (let step = 0; step < 2; step++) {
      let again = false;
      await this.store.updateStatus(this.ref, (status, record) => {
        if (record.runId !== this.runId || isTerminalTeamPhase(status.phase)) return undefined;
        const agent = status.agents[this.agent];
        if (!agent || agent.phase === phase) return undefined;
        let next: AgentPhase = phase;
        if (!canTransitionAgent(agent.phase, phase)) {
          if (phase === "Running" && canTransitionAgent(agent.phase, "Starting")) {
            next = "Starting";
            again = true;
          } else return undefined;
        }
        agent.phase = next;
        if (next === "Starting" || next === "Running") {
          agent.startedAt ??= at;
          delete agent.reason;
          delete agent.message;
          delete agent.finishedAt;
          delete agent.exitCode;
        } else {
          agent.finishedAt = at;
          if (details.reason) agent.reason = details.reason;
          if (details.message) agent.message = details.message;
          if (details.exitCode !== undefined) agent.exitCode = details.exitCode;
        }
        return status;
      });
      if (!again) return;
    }
  }

  async runCostUsd(): Promise<number | undefined> {
    const record = await this.store.findRun(this.ref);
    return record && record.runId === this.runId ? record.status.totalCostUsd : undefined;
  }

  async setTaskCounts(counts: TaskCounts): Promise<void> {
    await this.store.updateStatus(this.ref, (status, record) => {
      if (record.runId !== this.runId) return undefined;
      if (status.tasks.total === counts.total && status.tasks.done === counts.done) return undefined;
      status.tasks = { total: counts.total, done: counts.done };
      return status;
    });
  }

  warn(reason: string, message: string): Promise<void> {
    return this.store.appendEvent(
      { ...this.ref, runId: this.runId },
      { type: "Warning", reason, message, time: new Date().toISOString(), agent: this.agent },
    );
  }

  async recordArtifacts(artifacts: ArtifactStatus[]): Promise<void> {
    await this.store.updateStatus(this.ref, (status, record) => {
      if (record.runId !== this.runId) return undefined;
      const kept = (status.artifacts ?? []).filter(
        (a) => !artifacts.some((b) => b.producedBy === a.producedBy && b.name === a.name),
      );
      status.artifacts = [...kept, ...artifacts];
      return status;
    });
  }

  async recordDelivery(producedBy: string, name: string, delivery: ArtifactDelivery): Promise<void> {
    await this.store.updateStatus(this.ref, (status, record) => {
      if (record.runId !== this.runId) return undefined;
      const artifact = status.artifacts?.find((a) => a.producedBy === producedBy && a.name === name);
      if (!artifact) return undefined;
      artifact.deliveredTo = [
        ...artifact.deliveredTo.filter(
          (d) => !(d.consumer === delivery.consumer && d.mountPath === delivery.mountPath),
        ),
        delivery,
      ];
      return status;
    });
  }

  async endedAgents(): Promise<string[]> {
    const record = await this.store.findRun(this.ref);
    if (!record || record.runId !== this.runId) return [];
    return Object.entries(record.status.agents)
      .filter(([, agent]) => isFinishedAgentPhase(agent.phase))
      .map(([name]) => name);
  }

  async teammateProgress(): Promise<TeammateProgress | undefined> {
    const record = await this.store.findRun(this.ref);
    if (!record || record.runId !== this.runId) return undefined;
    return teammateProgress(record);
  }
}
