import type { TriggerView } from "../client/types.ts";
import { age } from "./age.ts";
import { renderTable } from "./table.ts";

/** kagents' printer columns for AgentTeamTrigger (Path, Last, Active, Total, Age) and the policy. */
export const TRIGGER_COLUMNS = ["NAME", "PATH", "POLICY", "LAST", "ACTIVE", "TOTAL", "AGE"] as const;

export function triggersTable(triggers: readonly TriggerView[], now: Date = new Date()): string[] {
  return renderTable(
    TRIGGER_COLUMNS,
    triggers.map((t) => [
      t.name,
      t.url,
      t.concurrencyPolicy,
      t.status.lastTriggeredAt ? age(t.status.lastTriggeredAt, now) : "<none>",
      t.status.activeRun ?? "<none>",
      String(t.status.totalRuns),
      age(t.createdAt, now),
    ]),
  );
}

/** `describe trigger`: where to send, how it is verified, what it runs, and the recent fires. */
export function describeTrigger(t: TriggerView, now: Date = new Date()): string {
  const lines = [
    `Name:               ${t.name}`,
    `Namespace:          ${t.namespace}`,
    `API Version:        ${t.trigger?.apiVersion ?? ""}`,
    `Webhook:            POST ${t.url}`,
    `Signature:          X-Hub-Signature-256 (HMAC-SHA256, key hmac-secret of secret ${t.secret})`,
    `Template:           ${t.templateRef}`,
    `Concurrency Policy: ${t.concurrencyPolicy}`,
    `Payload:            ${t.trigger?.spec?.payloadInjection?.mountPath ?? "<not injected>"}`,
    `Active Run:         ${t.status.activeRun ? `${t.status.activeRun} (${t.status.activePhase})` : "<none>"}`,
    `Last Triggered:     ${t.status.lastTriggeredAt ?? "<never>"}`,
    `Total Runs:         ${t.status.totalRuns}`,
    "Events:",
  ];
  const events = t.events ?? [];
  if (events.length === 0) lines.push("  <none>");
  else {
    lines.push(
      ...renderTable(
        ["TYPE", "REASON", "AGE", "MESSAGE"],
        events.map((e) => [e.type, e.reason, age(e.time, now), e.message]),
      ).map((l) => `  ${l}`),
    );
  }
  return `${lines.join("\n")}\n`;
}
