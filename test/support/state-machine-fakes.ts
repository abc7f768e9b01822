/**
 * In-memory stand-ins for the team-run Task states, shared by test/state-machines and
 * bench/control-plane: an agent item as Prepare returns it, Prepare's result, and the dependency
 * bookkeeping the contract asks of the real `dependencies` function (a wait is released by the
 * event of its dependencies' results, never by polling).
 */
import type { AgentCli } from "../../core/manifest/types.ts";
import {
  type AgentItem,
  DEPENDENCY_FAILED,
  type PreparePayload,
  type PrepareResult,
} from "../../state-machines/contract.ts";
import { StatesError } from "../../state-machines/local.ts";

export function agentItem(
  name: string,
  extra: Partial<AgentItem> = {},
  cli: AgentCli = "scripted",
): AgentItem {
  const dependsOn = extra.dependsOn ?? [];
  return {
    name,
    role: name === "lead" ? "lead" : "teammate",
    cli,
    dependsOn,
    waitForDependencies: dependsOn.length > 0,
    approvalGate: null,
    maxRestarts: name === "lead" ? 0 : 2,
    resources: { ecsCpu: "1024", ecsMemory: "2048", k8sCpu: "1", k8sMemory: "2Gi" },
    ...extra,
  };
}

export function fakePrepareResult(
  input: PreparePayload,
  agents: AgentItem[],
  mode: "coding" | "cowork" = "coding",
): PrepareResult {
  return {
    run: {
      runId: input.runId,
      namespace: input.namespace,
      teamName: input.teamName,
      mode,
      taskDefinitionArn: "arn:aws:ecs:us-east-1:123456789012:task-definition/Squadron-runner:7",
      accessPointId: "fsap-0123",
      posixUid: 20001,
      teamDir: "/mnt/team",
      deadline: new Date(Date.now() + 3_600_000).toISOString(),
      timeoutSeconds: 3600,
    },
    agents,
  };
}

/** Waits on dependencies and releases them when their outcomes are recorded. */
export class DependencyBoard {
  private readonly outcomes = new Map<string, "Succeeded" | "Failed">();
  private readonly waiters: Array<{ deps: string[]; resolve: () => void; reject: (e: Error) => void }> = [];

  /** Resolves when every dependency succeeded; fails with DependencyFailed when one failed. */
  wait(deps: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ deps, resolve, reject });
      this.settle();
    });
  }

  record(agent: string, outcome: "Succeeded" | "Failed"): void {
    this.outcomes.set(agent, outcome);
    this.settle();
  }

  private settle(): void {
    for (const w of [...this.waiters]) {
      const failed = w.deps.find((d) => this.outcomes.get(d) === "Failed");
      if (failed) w.reject(new StatesError(DEPENDENCY_FAILED, `dependency ${failed} failed`));
      else if (w.deps.every((d) => this.outcomes.get(d) === "Succeeded")) w.resolve();
      else continue;
      this.waiters.splice(this.waiters.indexOf(w), 1);
    }
  }
}
