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

// biome-ignore lint/suspicious/noExplicitAny: payloads differ per state; contract.ts types them.
export type TaskHandler = (input: any) => Promise<unknown>;
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
}

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
  const machine = new StateMachine(forLocalInterpreter(definition) as never, {
    validationOptions: { checkArn: true, checkPaths: true },
  });
  const name = options.name ?? String(input.runId ?? "local-run");
  const startTime = new Date().toISOString();
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: unwrapLambdaPayloads(definition, handlers) as never,
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
      wrapped[name] = async (input) => ({ StatusCode: 200, Payload: await fn(input.Payload) });
    } else if (resource.endsWith(":states:::lambda:invoke.waitForTaskToken")) {
      wrapped[name] = (input) => fn(input.Payload);
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
 * The one adaptation for the interpreter: it resolves TimeoutSecondsPath against the state's
 * Parameters output instead of the state input (as Step Functions does), so the deadline
 * paths would not resolve. Locally the run's deadline is enforced by the deadline handler
 * (a timer), so the per-Task timeout paths are dropped; everything else runs unchanged.
 */
export function forLocalInterpreter(definition: AslDefinition): AslDefinition {
  // The interpreter gives a Task without a timeout 60 s (Step Functions: none), which would end
  // every longer agent run or approval wait: those Tasks get a timeout beyond any run's deadline
  // (within setTimeout's 2^31 ms).
  return JSON.parse(JSON.stringify(definition), function (this: Record<string, unknown>, key, value) {
    if (key === "TimeoutSecondsPath") {
      this.TimeoutSeconds = LOCAL_TASK_TIMEOUT_SECONDS;
      return undefined;
    }
    return value;
  });
}

/** About 24 days: longer than any run's deadline, still a valid setTimeout delay. */
export const LOCAL_TASK_TIMEOUT_SECONDS = 2_000_000;

function allStates(definition: { States: Record<string, Record<string, unknown>> }): string[] {
  const names: string[] = [];
  for (const [name, state] of Object.entries(definition.States)) {
    names.push(name);
    for (const nested of nestedDefinitions(state)) names.push(...allStates(nested));
  }
  return names;
}
