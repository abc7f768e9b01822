import * as z from "zod";

/**
 * The scripted agent's script: steps run in order; each turn continues where the last one
 * stopped (`endTurn`), keyed by session id. Strings in `call` args may use `{{var.path}}` to
 * refer to a value saved by an earlier step (`as`), e.g. `{{task.id}}` after
 * `{waitFor: "assigned-task"}`.
 */
const usage = z.strictObject({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative().optional(),
  cacheWriteTokens: z.number().int().nonnegative().optional(),
  /** What this usage cost; priced from the price table when absent. */
  costUsd: z.number().nonnegative().max(1_000_000).optional(),
});

const waitTarget = z.union([
  z.literal("message"),
  z.literal("all-tasks-completed"),
  z.literal("assigned-task"),
  z.string().regex(/^task:.+:completed$/, 'expected "task:<subject>:completed"'),
]);

export const scriptStepSchema = z.union([
  /** Call an MCP tool (the team server's or another stdio server's); the result is captured. */
  z.strictObject({
    call: z.string().min(1),
    args: z.record(z.string(), z.unknown()).optional(),
    /** Save the parsed JSON result under this name for later `{{name...}}` references. */
    as: z.string().min(1).optional(),
    /** Go on when the tool reports an error (default: the turn fails). */
    allowError: z.boolean().optional(),
  }),
  /**
   * Poll the team tools until: an unread message exists (read and marked read, saved as
   * `messages`), a task with this subject is completed, every task is completed, or a pending
   * task is owned by this agent (saved as `task`).
   */
  z.strictObject({
    waitFor: waitTarget,
    timeoutMs: z
      .number()
      .int()
      .positive()
      .max(30 * 24 * 3600 * 1000)
      .optional(),
    as: z.string().min(1).optional(),
  }),
  /** Write a file relative to the working directory. */
  z.strictObject({ write: z.strictObject({ path: z.string().min(1), content: z.string() }) }),
  /**
   * Run a shell command in the working directory (e.g. `git commit`). A `{{reference}}` is
   * substituted shell-quoted, so a value another agent wrote (a task subject) stays one word.
   */
  z.strictObject({ exec: z.string().min(1), allowFailure: z.boolean().optional() }),
  /** Run a program with these arguments, no shell (each `{{reference}}` stays inside its argument). */
  z.strictObject({ run: z.array(z.string()).min(1), allowFailure: z.boolean().optional() }),
  /** Add model usage to what the turn reports. */
  z.strictObject({ usage }),
  z.strictObject({
    sleepMs: z
      .number()
      .int()
      .nonnegative()
      .max(24 * 3600 * 1000),
  }),
  /** Say something: an assistant text message, and the turn's result text if it is the last. */
  z.strictObject({ say: z.string() }),
  /** End the turn with an error result (`error_during_execution`). */
  z.strictObject({ fail: z.string() }),
  /** Crash: exit with this code mid-stream, without a result. */
  z.strictObject({ exit: z.number().int() }),
  /** End this turn successfully; `--resume <session>` continues with the next step. */
  z.strictObject({ endTurn: z.literal(true) }),
]);

export type ScriptStep = z.infer<typeof scriptStepSchema>;
/** A script is an array of steps. */
export const agentScriptSchema = z.array(scriptStepSchema);
