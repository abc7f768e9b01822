/**
 * Runs the extracted team-run definition with aws-local-stepfunctions, every Task state bound
 * to a local function by name. Used by tests and local mode.
 *
 * The interpreter does not model `.sync` or `.waitForTaskToken`: a bound function returns
 * (or throws) when the real integration would — the container states when the container
 * stops, the token states when SendTaskSuccess/SendTaskFailure would arrive.
 */
import type { StateName, TaskStateName } from "./contract.ts";
import { TASK_STATE_NAMES } from "./contract.ts";
import type { AslDefinition } from "./synth.ts";

/** aws-local-stepfunctions 3 calls Promise.withResolvers, which Node 20 lacks. */
export function ensurePromiseWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: unknown };
  if (typeof P.withResolvers === "function") return;
  P.withResolvers = <T>() => {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

/** `$$.Task.Token` in local executions (the interpreter models no tokens). */
export const LOCAL_TASK_TOKEN = "local-task-token";

/** What a bound Task function is told besides its input. */
export interface TaskContext {
  /** The state being run (its name in the definition). */
  state: TaskStateName;
  /**
   * Aborted when the state ends without this function's result: it timed out (its AWS timeout)
   * or the execution was stopped. The work that belongs to the state must stop then (a container
   * is stopped, a copy ends), as AWS stops a `.sync` task whose state timed out.
   */
  signal: AbortSignal;
}

// biome-ignore lint/suspicious/noExplicitAny: payloads differ per state; contract.ts types them.
export type TaskHandler = (input: any, context: TaskContext) => Promise<unknown>;
export type TaskHandlers = Record<TaskStateName, TaskHandler>;

/** An error whose `name` becomes the Step Functions error (and `message` the cause). */
export class StatesError extends Error {
  constructor(error: string, cause: string) {
    super(cause);
    this.name = error;
  }
}

export interface LocalExecution {
  status: "SUCCEEDED" | "FAILED";
  output?: unknown;
  error?: { Error: string; Cause: string };
  /** States entered, in order (Map iterations interleaved). */
  visited: StateName[];
  /** Entries per state, e.g. RunAgent: 4. */
  transitions: number;
}

export interface ExecuteOptions {
  /** Execution name; defaults to input.runId. */
  name?: string;
  /** Aborts the execution (StopExecution): it ends FAILED with error `ExecutionAbortedError`. */
  signal?: AbortSignal;
  /** Milliseconds a Wait state waits instead of its Seconds (tests of the EKS start watch). */
  waitTimeOverrides?: Record<string, number>;
  /** The clock of the Task timeouts (tests inject a fake one); default the global timers. */
  timers?: TaskTimers;
}

export interface TaskTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Definitions (as the interpreter runs them) that passed validation in this process. */
const VALIDATED = new Set<string>();

/** Executes the definition to completion and reports the states it went through. */
export async function executeLocally(
  definition: AslDefinition,
  input: Record<string, unknown>,
  handlers: TaskHandlers,
  options: ExecuteOptions = {},
): Promise<LocalExecution> {
  ensurePromiseWithResolvers();
  const missing = TASK_STATE_NAMES.filter((name) => typeof handlers[name] !== "function");
  if (missing.length > 0) throw new Error(`Every Task state must be bound; missing: ${missing.join(", ")}`);
  const { StateMachine } = await import("aws-local-stepfunctions");
  const local = forLocalInterpreter(definition);
  // asl-validator compiles its JSON schema on every validation (a few % of the local stack's CPU
  // when every run is validated): each distinct definition is validated once per process.
  const key = JSON.stringify(local);
  const machine = new StateMachine(local as never, {
    validationOptions: VALIDATED.has(key) ? { noValidate: true } : { checkArn: true, checkPaths: true },
  });
  VALIDATED.add(key);
  const name = options.name ?? String(input.runId ?? "local-run");
  const startTime = new Date().toISOString();
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: withStateTimeouts(
        definition,
        unwrapLambdaPayloads(definition, handlers),
        options.signal,
        options.timers ?? { setTimeout, clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) },
      ) as never,
      // Retry pauses (full jitter up to a minute) would only slow tests; the count still applies.
      retryIntervalOverrides: Object.fromEntries(allStates(definition).map((s) => [s, 0])),
      ...(options.waitTimeOverrides ? { waitTimeOverrides: options.waitTimeOverrides } : {}),
    },
    context: {
      Execution: {
        Id: `arn:aws:states:us-east-1:123456789012:execution:Squadron-team-run:${name}`,
        Name: name,
        StartTime: startTime,
        Input: input as never,
        RoleArn: "arn:aws:iam::123456789012:role/local",
      },
      // The interpreter has no task tokens; bound token states receive this placeholder and
      // should substitute a unique one if they store it (see LOCAL_TASK_TOKEN).
      Task: { Token: LOCAL_TASK_TOKEN },
      // The interpreter does not model `$$.State`; only the EKS start watch reads it (as the
      // launch's start), so the execution's start stands in for every state's entry time.
      State: { Name: "", EnteredTime: startTime, RetryCount: 0 },
    },
  });
  if (options.signal?.aborted) execution.abort();
  else options.signal?.addEventListener("abort", () => execution.abort(), { once: true });
  const visited: StateName[] = [];
  const collect = (async () => {
    for await (const event of execution.eventLogs) {
      const e = event as { type: string; state?: { name: string } };
      if (e.type === "StateEntered" && e.state) visited.push(e.state.name as StateName);
    }
  })();
  try {
    const output = await execution.result;
    await collect;
    return { status: "SUCCEEDED", output, visited, transitions: visited.length };
  } catch (error) {
    await collect.catch(() => undefined);
    const outer = error as { name?: string; message?: string; cause?: unknown };
    // The interpreter wraps the Fail state's error in an ExecutionError.
    const e = (outer.name === "ExecutionError" && outer.cause ? outer.cause : outer) as typeof outer;
    return {
      status: "FAILED",
      error: { Error: e.name ?? "Error", Cause: e.message ?? "" },
      visited,
      transitions: visited.length,
    };
  }
}

/**
 * A bound function receives the Task's Parameters. For `lambda:invoke.waitForTaskToken` these
 * are `{FunctionName, Payload}`; the handler gets the Payload, as the Lambda would. Container
 * states get the ECS RunTask parameters (read the environment with {@link runnerEnvironmentOf}).
 */
function unwrapLambdaPayloads(definition: AslDefinition, handlers: TaskHandlers): TaskHandlers {
  const resources = taskResources(definition);
  const wrapped = {} as TaskHandlers;
  for (const [name, fn] of Object.entries(handlers) as [TaskStateName, TaskHandler][]) {
    const resource = resources.get(name) ?? "";
    if (resource.endsWith(":states:::lambda:invoke")) {
      // Request-response lambda:invoke returns the invocation result, the function's in Payload.
      wrapped[name] = async (input, context) => ({
        StatusCode: 200,
        Payload: await fn(input.Payload, context),
      });
    } else if (resource.endsWith(":states:::lambda:invoke.waitForTaskToken")) {
      wrapped[name] = (input, context) => fn(input.Payload, context);
    } else {
      wrapped[name] = fn;
    }
  }
  return wrapped;
}

function taskResources(definition: { States: Record<string, Record<string, unknown>> }): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, state] of Object.entries(definition.States)) {
    if (state.Type === "Task") out.set(name, String(state.Resource));
    for (const nested of nestedDefinitions(state)) for (const [k, v] of taskResources(nested)) out.set(k, v);
  }
  return out;
}

type StatesOf = { States: Record<string, Record<string, unknown>> };

/** A Map's item processor and a Parallel's branches (EKS launches run beside their start watch). */
function nestedDefinitions(state: Record<string, unknown>): StatesOf[] {
  const processor = state.ItemProcessor as StatesOf | undefined;
  const branches = (state.Branches as StatesOf[] | undefined) ?? [];
  return [...(processor ? [processor] : []), ...branches];
}

/** The runner environment of an `ecs:runTask` Parameters object (container overrides). */
export function runnerEnvironmentOf(parameters: unknown): Record<string, string> {
  const p = parameters as {
    Overrides?: { ContainerOverrides?: Array<{ Environment?: Array<{ Name: string; Value: string }> }> };
  };
  const env = p.Overrides?.ContainerOverrides?.[0]?.Environment;
  if (!env)
    throw new Error("Not ecs:runTask parameters: Overrides.ContainerOverrides[0].Environment is missing");
  return Object.fromEntries(env.map((e) => [e.Name, e.Value]));
}

/**
 * Where a Task's `TimeoutSecondsPath` value travels to the bound function: an extra Parameters
 * field the interpreter resolves against the state input (as Step Functions resolves the path),
 * removed again before the bound function sees its Parameters.
 */
const TIMEOUT_PARAMETER = "squadronLocalTimeoutSeconds";

/** A Task state's timeout as Step Functions applies it: fixed, from a path of its input, or none. */
type TaskTimeout = { seconds: number } | { path: string } | undefined;

/**
 * The adaptation for the interpreter: Task timeouts are applied by {@link withStateTimeouts}, not
 * by aws-local-stepfunctions, which (1) gives a Task without a timeout 60 s where Step Functions
 * gives none (docs: "TimeoutSeconds ... If not provided, the default value is 99999999"), so every
 * Lambda Task that ran longer — DeliverOutputs copying 200,000 files — failed at 60 s, (2) resolves
 * TimeoutSecondsPath against the Parameters output instead of the state input, (3) leaves the
 * work of a timed-out state running and (4) reports a bare `States.Timeout`. So every Task gets a
 * timeout the interpreter never reaches, and a `TimeoutSecondsPath` becomes a Parameters field.
 * Everything else runs unchanged.
 */
export function forLocalInterpreter(definition: AslDefinition): AslDefinition {
  const copy = JSON.parse(JSON.stringify(definition)) as AslDefinition;
  for (const state of allTaskStates(copy)) {
    const path = state.TimeoutSecondsPath;
    if (typeof path === "string") {
      const parameters = state.Parameters as Record<string, unknown> | undefined;
      if (!parameters || typeof parameters !== "object") {
        throw new Error(
          "A Task state with TimeoutSecondsPath and no Parameters cannot be run locally (its timeout would not resolve).",
        );
      }
      parameters[`${TIMEOUT_PARAMETER}.$`] = path;
    }
    delete state.TimeoutSecondsPath;
    delete state.HeartbeatSeconds;
    delete state.HeartbeatSecondsPath;
    state.TimeoutSeconds = LOCAL_TASK_TIMEOUT_SECONDS;
  }
  return copy;
}

/** Beyond any run (the execution's own limit is 7 days), still a valid setTimeout delay (< 2^31 ms). */
export const LOCAL_TASK_TIMEOUT_SECONDS = 2_000_000;

/** The timeout each Task state has in the definition as deployed. */
export function taskTimeouts(definition: AslDefinition): Map<string, TaskTimeout> {
  const out = new Map<string, TaskTimeout>();
  const walk = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === "Task") {
        out.set(
          name,
          typeof state.TimeoutSeconds === "number"
            ? { seconds: state.TimeoutSeconds }
            : typeof state.TimeoutSecondsPath === "string"
              ? { path: state.TimeoutSecondsPath }
              : undefined,
        );
      }
      for (const nested of nestedDefinitions(state)) walk(nested.States);
    }
  };
  walk(definition.States as Record<string, Record<string, unknown>>);
  return out;
}

/**
 * Each bound function runs under its state's AWS timeout (none when the state has none). When the
 * timeout passes, the state fails with `States.Timeout` naming the state and the limit, and the
 * function's signal aborts so its work stops; the signal also aborts when the execution is stopped.
 */
function withStateTimeouts(
  definition: AslDefinition,
  handlers: TaskHandlers,
  executionSignal: AbortSignal | undefined,
  timers: TaskTimers,
): Record<string, (input: unknown) => Promise<unknown>> {
  const timeouts = taskTimeouts(definition);
  const out: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [name, fn] of Object.entries(handlers) as [TaskStateName, TaskHandler][]) {
    const timeout = timeouts.get(name);
    out[name] = async (raw) => {
      let input = raw;
      let seconds: number | undefined;
      if (timeout && "seconds" in timeout) seconds = timeout.seconds;
      if (raw && typeof raw === "object" && TIMEOUT_PARAMETER in raw) {
        const { [TIMEOUT_PARAMETER]: value, ...rest } = raw as Record<string, unknown>;
        input = rest;
        if (!Number.isInteger(value) || (value as number) < 1) {
          // Step Functions fails the state the same way when the path does not hold a positive integer.
          throw new StatesError(
            "States.Runtime",
            `${name}: TimeoutSecondsPath ${timeout && "path" in timeout ? timeout.path : ""} is ${JSON.stringify(value)}, not a positive integer.`,
          );
        }
        seconds = value as number;
      }
      const controller = new AbortController();
      const onExecutionAbort = () => controller.abort(executionSignal?.reason);
      if (executionSignal?.aborted) onExecutionAbort();
      else executionSignal?.addEventListener("abort", onExecutionAbort, { once: true });
      const work = fn(input, { state: name, signal: controller.signal });
      if (seconds === undefined) {
        try {
          return await work;
        } finally {
          executionSignal?.removeEventListener("abort", onExecutionAbort);
        }
      }
      let timer: unknown;
      const timedOut = new Promise<never>((_, reject) => {
        timer = timers.setTimeout(() => {
          const error = new StatesError(
            "States.Timeout",
            `${name} timed out after ${formatSeconds(seconds as number)} (its TimeoutSeconds${timeout && "path" in timeout ? `, from ${timeout.path}` : ""}); its work was stopped.`,
          );
          controller.abort(error);
          reject(error);
        }, seconds * 1000);
      });
      // The abandoned work may still settle later (a stopped process exits): nothing waits for it.
      work.catch(() => undefined);
      try {
        return await Promise.race([work, timedOut]);
      } finally {
        timers.clearTimeout(timer);
        executionSignal?.removeEventListener("abort", onExecutionAbort);
      }
    };
  }
  return out;
}

function formatSeconds(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function allTaskStates(definition: {
  States: Record<string, Record<string, unknown>>;
}): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const state of Object.values(definition.States)) {
    if (state.Type === "Task") out.push(state);
    for (const nested of nestedDefinitions(state)) out.push(...allTaskStates(nested));
  }
  return out;
}

function allStates(definition: { States: Record<string, Record<string, unknown>> }): string[] {
  const names: string[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    names.push(name);
    for (const nested of nestedDefinitions(state)) names.push(...allStates(nested));
  }
  return names;
}
