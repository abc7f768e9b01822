/**
 * The run-level events Squadron POSTs to `observability.webhook` (core/control/notifications.ts
 * `teamEvent`), each with kagents' name for it. kagents' `webhook.events` is a subscription list:
 * its notifier drops every event not listed (kagents internal/webhook/notifier.go, SendEvent), so
 * Squadron filters the same way, accepting either name. kagents' other events (`team.started`,
 * `teammate.error`) are never sent by Squadron, so subscribing to them is refused at validation
 * rather than accepted and never delivered.
 */
export const TEAM_WEBHOOK_EVENTS = {
  completed: "team.completed",
  failed: "team.failed",
  "budget-warning": "budget.warning",
} as const;

export type TeamWebhookEvent = keyof typeof TEAM_WEBHOOK_EVENTS;

const BY_NAME = new Map<string, TeamWebhookEvent>(
  Object.entries(TEAM_WEBHOOK_EVENTS).flatMap(([squadron, kagents]) => [
    [squadron, squadron as TeamWebhookEvent],
    [kagents, squadron as TeamWebhookEvent],
  ]),
);

/** Squadron's event for a name in either form, or undefined for a name Squadron never sends. */
export function teamWebhookEvent(name: string): TeamWebhookEvent | undefined {
  return BY_NAME.get(name);
}

/** Whether a webhook with this `events` list (absent: every event) wants `event`. */
export function webhookWants(events: readonly string[] | undefined, event: string): boolean {
  return events === undefined || events.some((name) => teamWebhookEvent(name) === event);
}

export const TEAM_WEBHOOK_EVENTS_TEXT = Object.entries(TEAM_WEBHOOK_EVENTS)
  .map(([squadron, kagents]) => `${squadron} (kagents' ${kagents})`)
  .join(", ");
