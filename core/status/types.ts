import type { AgentCli } from "../manifest/types.ts";
import type { AgentPhase, TeamPhase } from "./phases.ts";

/** Token counts as the runner's adapters normalise them (see DESIGN.md section 5). */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/** Measured usage of one agent turn (or a sum of turns): tokens and dollars. */
export interface UsageDelta extends TokenCounts {
  costUsd: number;
}

export interface AgentStatus extends UsageDelta {
  phase: AgentPhase;
  cli: AgentCli;
  /** True when a scripted agent stands in for the CLI (no API key, demos, tests). */
  simulated?: boolean;
  /** ECS task ARN (Fargate) of the current attempt. */
  taskArn?: string;
  /** Kubernetes Job name (EKS) of the current attempt. */
  jobName?: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** Machine-readable cause of the current phase, e.g. "DependencyFailed", "ApprovalDenied". */
  reason?: string;
  message?: string;
  restarts: number;
  heartbeatAt?: string;
  /** The approval gate event this agent waits on, while PendingApproval. */
  pendingApproval?: string;
}

export const GATE_STATES = ["Pending", "Approved", "Denied"] as const;
export type GateState = (typeof GATE_STATES)[number];

export interface GateStatus {
  state: GateState;
  decidedBy?: string;
  decidedAt?: string;
  /** When the approvers were asked (Slack message sent, webhook called). */
  notifiedAt?: string;
  /**
   * Where the Step Functions task token is kept (an attribute of the run item) while the gate
   * waits; the token itself never appears in status, events or API views.
   */
  tokenRef?: string;
}

export interface TeamStatus {
  phase: TeamPhase;
  /** Machine-readable cause of the phase, e.g. "BudgetExceeded", "AgentFailed". */
  reason?: string;
  message?: string;
  agents: Record<string, AgentStatus>;
  /** By approval gate event (`spawn-<teammate>`). */
  gates: Record<string, GateStatus>;
  tasks: { total: number; done: number };
  totalCostUsd: number;
  /** Set once the run crossed its budget warning threshold, so the warning is sent once. */
  budgetWarned: boolean;
  startedAt?: string;
  completedAt?: string;
  /** The Step Functions execution (or the local runner's equivalent id). */
  executionArn?: string;
  /** One entry per `lifecycle.delivery[]` target, once onComplete "deliver" has sent them. */
  delivery?: DeliveryStatus[];
  /** kagents v0.8 `status.artifacts`: declared outputs found when their producer ended. */
  artifacts?: ArtifactStatus[];
}

/** What happened to one delivery target (kagents' status.delivery[], with Squadron's detail). */
export interface DeliveryStatus {
  type: "webhook" | "slack";
  /** Where it went, without secrets: the webhook's scheme, host and path; "slack <channel>". */
  target: string;
  /** Delivered only when the receiver answered 2xx. */
  phase: "Delivered" | "Failed";
  /** The receiver's last HTTP status, when it answered. */
  httpStatus?: number;
  /** Why it failed (never the Slack URL). */
  error?: string;
  attempts: number;
  /** Webhook targets: whether the body carried an X-Squadron-Signature. */
  signed?: boolean;
  /** When the sender finished, delivered or not. */
  deliveredAt: string;
}

/** Where one artifact was staged for a consumer (kagents v0.8 `inputs[]`). */
export interface ArtifactDelivery {
  consumer: string;
  /** The consumer's `inputs[].mountPath` as written; the file is `<mountPath>/<name>`. */
  mountPath: string;
  size: number;
  deliveredAt: string;
}

/** One declared output (kagents' ArtifactStatus, plus its size and deliveries). */
export interface ArtifactStatus {
  /** The basename of `path`: what consumers name in `inputs[].artifact`. */
  name: string;
  /** `outputs[].path` as declared. */
  path: string;
  producedBy: string;
  producedAt: string;
  /** Bytes, measured when the producer ended. */
  size: number;
  description?: string;
  deliveredTo: ArtifactDelivery[];
}

export const EVENT_TYPES = ["Normal", "Warning"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One line of the run's history, as `kubectl describe` shows events. */
export interface TeamEvent {
  type: EventType;
  /** CamelCase cause, e.g. "AgentStarted", "ApprovalRequested", "BudgetExceeded". */
  reason: string;
  message: string;
  /** ISO 8601. */
  time: string;
  agent?: string;
}
