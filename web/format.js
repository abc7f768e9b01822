/** Formatting shared by the views: money, ages, phase tones. */

export function usd(value) {
  const n = Number(value ?? 0);
  return `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : 2)}`;
}

/** kubectl's age format, as the API and `squadron get` show it. */
export function age(fromIso, now = Date.now()) {
  if (!fromIso) return "";
  let sec = Math.max(0, Math.floor((now - Date.parse(fromIso)) / 1000));
  if (sec < 60) return `${sec}s`;
  const d = Math.floor(sec / 86400);
  sec -= d * 86400;
  const hr = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  if (d > 0) return `${d}d${hr}h`;
  if (hr > 0) return `${hr}h${m}m`;
  return `${m}m`;
}

export function clock(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

const TONES = {
  Completed: "success",
  Succeeded: "success",
  Approved: "success",
  completed: "success",
  Running: "progress",
  Starting: "progress",
  Initializing: "progress",
  Finalizing: "progress",
  in_progress: "progress",
  PendingApproval: "warning",
  BudgetExceeded: "error",
  TimedOut: "error",
  Failed: "error",
  Denied: "error",
  Cancelled: "stopped",
  Stopped: "stopped",
  deleted: "stopped",
};

/** success | progress | warning | error | stopped | pending */
export function tone(phase) {
  return TONES[phase] ?? "pending";
}

const LABELS = {
  PendingApproval: "Pending approval",
  WaitingForDependencies: "Waiting for dependencies",
  BudgetExceeded: "Budget exceeded",
  TimedOut: "Timed out",
  in_progress: "In progress",
  pending: "Pending",
  completed: "Completed",
  deleted: "Deleted",
};

export function phaseLabel(phase) {
  return LABELS[phase] ?? phase ?? "Unknown";
}

export const TERMINAL_TEAM_PHASES = new Set([
  "Completed",
  "Failed",
  "TimedOut",
  "BudgetExceeded",
  "Cancelled",
]);
