import { stagedRelativePath, workspaceRelativePath } from "../../core/manifest/artifacts.ts";
import type { AgentSpec, AgentTeam } from "../../core/manifest/types.ts";
import type { InboxMessage, Task } from "../../core/team-protocol/types.ts";
import { describeScope } from "../scope/match.ts";

/** The sender name of messages the runner itself writes into an inbox. */
export const RUNNER_SENDER = "squadron";

/**
 * What is appended to the agent CLI's system prompt: who it is, who is on the team, its file
 * scope, and how to coordinate through the team MCP server (the tools are named as Claude Code
 * exposes them: mcp__team__<tool>).
 */
export function systemPromptAddition(team: AgentTeam, agent: AgentSpec, runId: string): string {
  const spec = team.spec;
  const lead = spec.lead;
  const others = [lead, ...spec.teammates].filter((a) => a.name !== agent.name);
  const isLead = agent.role === "lead";
  const lines = [
    "# Squadron team",
    "",
    `You are **${agent.name}**, the ${isLead ? "lead" : "a teammate"} of the agent team "${team.metadata.name}" (run ${runId}). ` +
      "You run headless: nobody reads your terminal output, and nobody can answer questions except your teammates through the team tools.",
    "",
    "## Team members",
    "",
    ...others.map(
      (a) => `- ${a.name} (${a.role}, ${a.model})${a.role === "teammate" ? `: ${firstLine(a.prompt)}` : ""}`,
    ),
    "",
    "## How the team works together",
    "",
    "Use the tools of the `team` MCP server for all coordination:",
    "- `list_members` shows who is on the team and whether they are still working;",
    '- `send_message` sends a message to one member (`to`) or to everyone (`to: "*"`); `read_messages` reads yours;',
    "- `task_create`, `task_list`, `task_claim` and `task_update` manage the shared task list (`blockedBy` orders tasks);",
    "- `finish` with a short summary ends your work. Call it exactly once, when you are done.",
    "",
  ];
  if (isLead) {
    lines.push(
      spec.coordination.taskAssignment === "lead-assigns"
        ? "Break the work into tasks with `task_create` and assign each to a teammate (`owner`)."
        : "Break the work into tasks with `task_create`; teammates claim them themselves.",
      "Teammates report back with messages. When a teammate has nothing left to do you may ask it to stop by sending it " +
        '`{"type":"shutdown_request","reason":"..."}`.',
      `When every teammate has ended, the runner (sender "${RUNNER_SENDER}") tells you so: then check the result, and call \`finish\` with a summary of what the team delivered.`,
    );
  } else {
    lines.push(
      spec.coordination.taskAssignment === "lead-assigns"
        ? `The lead (${lead.name}) assigns you tasks. Claim a task with \`task_claim\` before you start it and mark it \`completed\` with \`task_update\` when done.`
        : "Claim open tasks with `task_claim` before you start one, and mark each `completed` with `task_update` when done.",
      spec.coordination.peerMessaging
        ? `Report to the lead (${lead.name}) with \`send_message\`; you may also message other teammates directly.`
        : `Report to the lead (${lead.name}) with \`send_message\`; talk to other teammates through the lead.`,
      "When you have no open task left and nothing more to contribute, call `finish`. " +
        "If the lead sends you a shutdown request, wrap up and call `finish`.",
    );
  }
  lines.push(
    "When you end your turn without calling `finish`, you are resumed as soon as a message or a task arrives for you.",
  );
  if (spec.mode === "coding") {
    lines.push(
      "",
      "## Your checkout",
      "",
      isLead
        ? "You work in the run's main checkout. Teammates work on their own branches in separate worktrees; their work is merged when the run ends."
        : "You work in your own git worktree on your own branch. Commit your changes there (`git add` + `git commit`); uncommitted work is committed for you at the end, but do not rely on it.",
    );
  } else {
    lines.push(
      "",
      "## Your workspace",
      "",
      `Inputs are under the current directory as the team spec mounts them; write deliverables to ${relativeOutput(team)}.`,
    );
  }
  lines.push(...describeArtifacts(agent));
  const scope = describeScope(agent.scope);
  if (scope) lines.push("", scope);
  return lines.join("\n");
}

/** kagents v0.8 outputs/inputs, as paths relative to the agent's working directory. */
function describeArtifacts(agent: AgentSpec): string[] {
  const lines: string[] = [];
  if (agent.inputs?.length) {
    lines.push("", "## Artifacts staged for you (read-only copies)", "");
    for (const input of agent.inputs)
      lines.push(`- ./${stagedRelativePath(input)}: "${input.artifact}" produced by ${input.from}`);
  }
  if (agent.outputs?.length) {
    lines.push(
      "",
      "## Your declared outputs",
      "",
      "Write each of these files before you finish; if one is missing (or is a link) when you end, you fail:",
    );
    for (const output of agent.outputs)
      lines.push(
        `- ./${workspaceRelativePath(output.path) ?? output.path}${output.description ? `: ${output.description}` : ""}`,
      );
  }
  return lines;
}

function relativeOutput(team: AgentTeam): string {
  const mount = team.spec.workspace?.output.mountPath ?? "/workspace/output";
  const relative = mount.replace(/^\/workspace\/?/, "");
  return relative ? `./${relative}` : "the current directory";
}

function firstLine(text: string): string {
  const line = text.trim().split("\n")[0] ?? "";
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/** The prompt of a resumed turn: what woke the agent up. */
export function resumePrompt(wake: { messages: InboxMessage[]; tasks: Task[]; nudge?: string }): string {
  const parts: string[] = [];
  if (wake.messages.length > 0) {
    const senders = [...new Set(wake.messages.map((m) => m.from))].join(", ");
    parts.push(
      `You have ${wake.messages.length} new message${wake.messages.length === 1 ? "" : "s"} from ${senders}. ` +
        "Read them with the team tool `read_messages` and act on them.",
    );
  }
  if (wake.tasks.length > 0) {
    parts.push(
      `There ${wake.tasks.length === 1 ? "is a task" : `are ${wake.tasks.length} tasks`} for you: ` +
        wake.tasks.map((t) => `#${t.id} "${t.subject}"`).join(", ") +
        ". Look at them with `task_list`, claim what you take on with `task_claim`.",
    );
  }
  if (wake.nudge) parts.push(wake.nudge);
  parts.push("Call `finish` when your work is done.");
  return parts.join("\n\n");
}

export function teamEndedMessage(teammates: { name: string; status: string }[]): string {
  const list = teammates.map((t) => `${t.name} (${t.status})`).join(", ");
  return teammates.length > 0
    ? `Every teammate has ended: ${list}. Review the outcome (task_list, read_messages) and call finish with a summary of what the team delivered.`
    : "This team has no teammates. Call finish with a summary of what you delivered.";
}

/** The prompt of the turn that resumes a session after the runner was started again. */
export function restartPrompt(state: { unreadMessages: number; openTasks: Task[] }): string {
  const parts = [
    "Your runner was restarted (its container or the local stack restarted) while you were working; this is the same session, resumed. Continue where you left off: do not redo steps you already completed.",
  ];
  if (state.unreadMessages > 0) {
    parts.push(
      `You have ${state.unreadMessages} unread message${state.unreadMessages === 1 ? "" : "s"}: read them with \`read_messages\`.`,
    );
  }
  if (state.openTasks.length > 0) {
    parts.push(
      `Your open tasks: ${state.openTasks.map((t) => `#${t.id} "${t.subject}" (${t.status})`).join(", ")}.`,
    );
  }
  parts.push("Call `finish` when your work is done.");
  return parts.join("\n\n");
}

/** The first prompt of a new session when the earlier one could not be resumed after a restart. */
export function freshAfterRestartPrompt(original: string): string {
  return `${original}\n\nNote: your runner was restarted and your earlier session could not be resumed. Work you did before is still there: your files and commits, the team's tasks (\`task_list\`) and messages (\`read_messages\`). Check them first and continue from there rather than starting over.`;
}
