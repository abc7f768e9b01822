import type { ScriptStep } from "./script.ts";

export interface DefaultScriptInput {
  /** This agent's name. */
  name: string;
  role: "lead" | "teammate";
  /** Every member of the team, lead included. */
  members: string[];
  /** The lead's name (defaults to "lead"). */
  lead?: string;
  /** Coding mode: teammates commit their file with git. */
  coding?: boolean;
  /** How long waits may take before the turn fails. */
  timeoutMs?: number;
  /** The file a teammate writes (default `<name>.md`), e.g. inside its scope. */
  file?: string;
  /**
   * Cowork mode: the output directory relative to the working directory. Teammates write their
   * file there and the lead writes `<lead>-summary.md`, so the run has deliverables where the manifest's
   * `workspace.output.mountPath` says.
   */
  outputDir?: string;
  /**
   * Declared outputs (kagents v0.8 `outputs[].path`, relative to the working directory): a
   * teammate writes each of them too, so a simulated stand-in delivers what its manifest declares.
   */
  declaredOutputs?: string[];
}

/**
 * A plausible team member for demos and tests. The lead creates one task per teammate, waits
 * until all are completed, reads its messages, summarises and finishes. A teammate waits for a
 * task assigned to it, claims it, writes (and in coding mode commits) a file, completes the task,
 * tells the lead and finishes.
 */
export function defaultScript(input: DefaultScriptInput): ScriptStep[] {
  const timeoutMs = input.timeoutMs ?? 10 * 60_000;
  const lead = input.lead ?? "lead";
  if (input.role === "lead") {
    const teammates = input.members.filter((m) => m !== input.name);
    const summary = teammates.length
      ? `All ${teammates.length} tasks are completed by ${teammates.join(", ")}.`
      : "There were no teammates; nothing to coordinate.";
    return [
      { call: "list_members" },
      { usage: { inputTokens: 1500, outputTokens: 200 } },
      ...teammates.map(
        (t): ScriptStep => ({
          call: "task_create",
          args: {
            subject: `Work for ${t}`,
            description: `Write ${t}.md describing your part, then report to ${input.name}.`,
            owner: t,
          },
        }),
      ),
      ...(teammates.length ? [{ waitFor: "all-tasks-completed", timeoutMs } as ScriptStep] : []),
      { call: "read_messages", args: { markRead: true } },
      { usage: { inputTokens: 2000, outputTokens: 300 } },
      ...(input.outputDir
        ? [
            {
              write: {
                path: inOutput(input.outputDir, `${input.name}-summary.md`),
                content: `# Summary\n\n${summary}\n`,
              },
            },
          ]
        : []),
      { say: summary },
      { call: "finish", args: { summary } },
    ];
  }
  const file = input.file ?? inOutput(input.outputDir, `${input.name}.md`);
  const steps: ScriptStep[] = [
    { waitFor: "assigned-task", timeoutMs },
    { call: "task_claim", args: { id: "{{task.id}}" } },
    { usage: { inputTokens: 1200, outputTokens: 400 } },
    {
      write: {
        path: file,
        content: `# ${input.name}\n\nTask: {{task.subject}}\n\nDone by the scripted agent ${input.name}.\n`,
      },
    },
    ...(input.declaredOutputs ?? [])
      .filter((path) => path !== file)
      .map((path) => ({
        write: {
          path,
          content: `# ${path}\n\nWritten by the scripted agent ${input.name} for {{task.subject}}.\n`,
        },
      })),
  ];
  if (input.coding) {
    // Argument vectors, never a shell line: the file comes from the manifest's scope paths, and a
    // name such as "docs/o'reilly.md" (or "a';touch x;'") must stay one argument.
    const identity = ["-c", `user.name=${input.name}`, "-c", `user.email=${input.name}@squadron.invalid`];
    steps.push(
      { run: ["git", "add", "--", file] },
      { run: ["git", ...identity, "commit", "-q", "-m", `${input.name}: complete assigned task`] },
    );
  }
  steps.push(
    { call: "task_update", args: { id: "{{task.id}}", status: "completed" } },
    {
      call: "send_message",
      args: { to: lead, text: `Finished "{{task.subject}}": wrote ${file}.`, summary: "task done" },
    },
    { say: `Completed "{{task.subject}}".` },
    { call: "finish", args: { summary: `Completed "{{task.subject}}" and wrote ${file}.` } },
  );
  return steps;
}

function inOutput(outputDir: string | undefined, file: string): string {
  return outputDir && outputDir !== "." ? `${outputDir.replace(/\/+$/, "")}/${file}` : file;
}
