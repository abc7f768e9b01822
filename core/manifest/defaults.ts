import type { AgentCli, CoordinationSpec, OnComplete, PermissionMode } from "./types.ts";

/** kagents' defaults, so its manifests mean the same thing here, plus Squadron's own. */
export const DEFAULTS = {
  namespace: "default",
  leadName: "lead",
  leadModel: "opus",
  teammateModel: "sonnet",
  cli: "claude" satisfies AgentCli as AgentCli,
  permissionMode: "acceptEdits" satisfies PermissionMode as PermissionMode,
  branch: "main",
  timeout: "4h",
  onComplete: "notify" satisfies OnComplete as OnComplete,
  maxRestarts: 3,
  outputMountPath: "/workspace/output",
  outputSize: "5Gi",
  mcpTransport: "http" as const,
  mcpAuthHeader: "Authorization",
  stageFan: "parallel" as const,
  /** AgentTeamSchedule: finished runs kept (kagents' sample and Squadron's default). */
  scheduleHistoryLimit: 5,
  coordination: { taskAssignment: "lead-assigns", peerMessaging: true } satisfies CoordinationSpec,
} as const;
