/** Response shapes of the REST API (docs/api.md), as far as the CLI reads them. */

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

export interface TeamSummary {
  namespace: string;
  name: string;
  runId?: string;
  phase: string;
  ready: string;
  tasks: { total: number; done: number };
  cost: { usd: number; budgetUsd?: number | null; simulated?: boolean };
  age?: string;
  createdAt: string;
  labels?: Record<string, string>;
}

export interface AgentView {
  name: string;
  role?: "lead" | "teammate";
  cli?: string;
  model?: string;
  phase: string;
  reason?: string | null;
  message?: string | null;
  pendingApproval?: string | null;
  restarts?: number;
  costUsd?: number;
  simulated?: boolean;
  dependsOn?: string[];
  startedAt?: string | null;
  finishedAt?: string | null;
}

export interface GateView {
  state: string;
  decidedBy?: string | null;
  decidedAt?: string | null;
}

export interface TeamEventView {
  type: string;
  reason: string;
  message: string;
  time: string;
  agent?: string;
}

export interface StageView {
  name: string;
  phase: string;
  teammates: string[];
  dependsOn?: string[];
  approvalRequired?: boolean;
  gate?: string | null;
  gateState?: string | null;
  ready: string;
  startedAt?: string | null;
  completedAt?: string | null;
}

export interface PipelineView {
  currentStage: string | null;
  stages: StageView[];
}

/** One onComplete "deliver" target's outcome (status.delivery[]). */
export interface DeliveryView {
  type: string;
  target: string;
  phase: "Delivered" | "Failed";
  httpStatus?: number;
  error?: string;
  attempts: number;
  signed?: boolean;
  deliveredAt: string;
}

/** kagents v0.8 status.artifacts: one declared output and where it was staged. */
export interface ArtifactView {
  name: string;
  path: string;
  producedBy: string;
  producedAt?: string;
  size: number;
  description?: string;
  deliveredTo: { consumer: string; mountPath: string; size?: number; deliveredAt?: string }[];
}

export interface TeamView extends TeamSummary {
  apiVersion?: string;
  artifacts?: ArtifactView[];
  pipeline?: PipelineView | null;
  delivery?: DeliveryView[] | null;
  reason?: string | null;
  message?: string | null;
  startedAt?: string | null;
  completedAt?: string | null;
  mode?: string;
  lead?: AgentView;
  teammates?: AgentView[];
  gates?: Record<string, GateView>;
  events?: TeamEventView[];
  spec?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  /** apply: a team of that name exists with this very manifest; nothing was changed. */
  unchanged?: boolean;
  /** DELETE: the ended team was removed; its run stays readable by run id for `retentionDays`. */
  deleted?: boolean;
  retentionDays?: number;
}

interface TemplateManifest {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    description?: string;
    teammates?: unknown[];
    lifecycle?: { timeout?: string; budgetLimit?: number };
  };
}

/** A stored template: `{namespace, name, template, version, createdAt, updatedAt}`. */
export interface TemplateView {
  namespace?: string;
  name?: string;
  version?: number;
  createdAt?: string;
  updatedAt?: string;
  template?: TemplateManifest;
}

export interface TaskView {
  id: string;
  subject: string;
  description?: string;
  status: string;
  owner?: string | null;
  blocks?: string[];
  blockedBy?: string[];
  createdAt?: string;
  updatedAt?: string;
}

export interface MessageView {
  to: string;
  from: string;
  text: string;
  summary?: string;
  timestamp: string;
  read: boolean;
}

export interface GateDecision {
  gate: string;
  state: string;
  decidedBy?: string;
}

export interface LogLine {
  agent: string;
  time: string;
  line: string;
}

/** An AgentTeamTrigger as the API shows it (GET .../triggers/{name}). */
export interface TriggerView {
  namespace: string;
  name: string;
  path: string;
  /** The route a sender POSTs to: `/hooks/<namespace><path>`. */
  url: string;
  secret: string;
  templateRef: string;
  concurrencyPolicy: string;
  status: {
    activeRun: string | null;
    activePhase: string | null;
    lastTriggeredAt: string | null;
    totalRuns: number;
  };
  trigger?: { apiVersion?: string; spec?: { payloadInjection?: { mountPath?: string } } };
  version: number;
  createdAt: string;
  events?: Array<{ type: string; reason: string; message: string; time: string }>;
}
