/** Helpers shared by the Lambda handler tests. */

/** A Slack `block_actions` request body as Slack sends it (form-encoded JSON payload). */
export function blockActionsBody(actionId: string, value: string, user = "U123"): string {
  const payload = {
    type: "block_actions",
    user: { id: user, username: "alice", name: "alice", team_id: "T1" },
    api_app_id: "A1",
    token: "legacy",
    container: { type: "message", message_ts: "1700000000.000100", channel_id: "C1", is_ephemeral: false },
    trigger_id: "1.2.3",
    team: { id: "T1", domain: "example" },
    channel: { id: "C1", name: "approvals" },
    message: { type: "message", ts: "1700000000.000100", text: "Approval needed" },
    response_url: "https://hooks.slack.com/actions/T1/1/abc",
    actions: [
      {
        action_id: actionId,
        block_id: "squadron_gate",
        text: { type: "plain_text", text: "Approve" },
        value,
        type: "button",
        action_ts: "1700000001.000200",
      },
    ],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
