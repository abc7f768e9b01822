/**
 * The Step Functions API as local mode needs it: StartExecution (queued, at most N runs at once),
 * StopExecution (aborts the interpreter and stops the run's processes), SendTaskSuccess /
 * SendTaskFailure (resolve a token a bound Task state registered). Executions run the synthesised
 * definition with aws-local-stepfunctions (state-machines/local.ts).
 */
import { randomUUID } from "node:crypto";
import type { ExecutionStarter, ExecutionStopper, TaskTokenResolver } from "../core/control/execution.ts";
import type { ExecutionStatusDetail } from "../core/control/guards.ts";
import type { StateName, TeamRunExecutionInput } from "../state-machines/contract.ts";
import { executeLocally, StatesError, type TaskHandlers } from "../state-machines/local.ts";
import type { AslDefinition } from "../state-machines/synth.ts";
import type { ContainerProcess } from "./runner-process.ts";

/** The ARN executeLocally gives `$$.Execution.Id`; Prepare stores it, Stop receives it. */
export function localExecutionArn(runId: string): string {
  return `arn:aws:states:us-east-1:123456789012:execution:Squadron-team-run:${runId}`;
}

export function runIdOfArn(arn: string): string {
  return arn.slice(arn.lastIndexOf(":") + 1);
}

interface Waiter {
  runId: string;
  resolve(output: Record<string, unknown>): void;
  reject(error: Error): void;
}

/** One execution: what StopExecution must reach (its processes and token waits). */
export class LocalExecution {
  readonly controller = new AbortController();
  readonly processes = new Set<ContainerProcess>();
  readonly tokens = new Set<string>();
  state: "queued" | "running" | "ended" = "queued";
  stopped?: { error: string; cause: string };
  /** Set when the stack shuts down: the run is left for the next start to resume or fail. */
  interrupted = false;
  ended!: Promise<void>;
  endedResolve!: () => void;

  constructor(
    readonly input: TeamRunExecutionInput,
    readonly replay: boolean,
  ) {
    this.ended = new Promise((resolve) => {
      this.endedResolve = resolve;
    });
  }

  get runId(): string {
    return this.input.runId;
  }

  get arn(): string {
    return localExecutionArn(this.input.runId);
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }
}

export interface LocalStepFunctionsOptions {
  definition: AslDefinition;
  /** Task handlers bound for one execution. */
  handlersFor(execution: LocalExecution): TaskHandlers;
  /** Runs at once; the others wait in the queue (phase Pending). */
  maxConcurrentRuns: number;
  /** EventBridge's "Execution Status Change" of an execution that ended (not on shutdown). */
  onStatusChange(detail: ExecutionStatusDetail): Promise<void>;
  onRunningChange?(runIds: string[]): void;
  /** The interpreter's report of an execution that ended, with the states it entered (tests, figures). */
  onExecuted?(runId: string, report: ExecutionReport): void;
  log?(message: string): void;
}

export interface ExecutionReport {
  status: "SUCCEEDED" | "FAILED";
  error?: { Error: string; Cause: string };
  /** States entered, in order (Map iterations interleaved); empty if the interpreter itself failed. */
  visited: StateName[];
}

export class LocalStepFunctions implements ExecutionStarter, ExecutionStopper, TaskTokenResolver {
  private readonly executions = new Map<string, LocalExecution>();
  private readonly queue: LocalExecution[] = [];
  private readonly waiters = new Map<string, Waiter>();
  private running = 0;
  private closing = false;

  constructor(private readonly options: LocalStepFunctionsOptions) {}

  /** StartExecution with name = run id: a second start of the same run returns the same ARN. */
  async start(input: TeamRunExecutionInput): Promise<{ executionArn: string }> {
    return this.launch(input, false);
  }

  /** Starts an execution again after a restart; bound states skip what the run already did. */
  resume(input: TeamRunExecutionInput): { executionArn: string } {
    return this.launch(input, true);
  }

  private launch(input: TeamRunExecutionInput, replay: boolean): { executionArn: string } {
    if (this.closing) throw new Error("the local stack is shutting down");
    const existing = this.executions.get(input.runId);
    if (existing) return { executionArn: existing.arn };
    const execution = new LocalExecution(input, replay);
    this.executions.set(input.runId, execution);
    this.queue.push(execution);
    this.pump();
    return { executionArn: execution.arn };
  }

  get(runId: string): LocalExecution | undefined {
    return this.executions.get(runId);
  }

  /** Run ids of executions not yet ended (running or queued). */
  active(): string[] {
    return [...this.executions.values()].filter((e) => e.state !== "ended").map((e) => e.runId);
  }

  counts(): { running: number; queued: number } {
    return { running: this.running, queued: this.queue.length };
  }

  /** What the interpreter keeps per run: executions not yet forgotten and task-token waits. */
  retained(): { executions: number; tokenWaits: number } {
    return { executions: this.executions.size, tokenWaits: this.waiters.size };
  }

  private pump(): void {
    while (!this.closing && this.running < this.options.maxConcurrentRuns && this.queue.length > 0) {
      this.runToEnd(this.queue.shift() as LocalExecution);
    }
    this.options.onRunningChange?.(this.active());
  }

  /**
   * Runs one execution to its end, then forgets it and lets the next queued one in; `pump` then
   * reports the running set (onRunningChange) without the ended one.
   */
  private runToEnd(execution: LocalExecution): void {
    this.running += 1;
    execution.state = "running";
    void this.run(execution).finally(() => {
      this.running -= 1;
      execution.state = "ended";
      execution.endedResolve();
      this.executions.delete(execution.runId);
      this.pump();
    });
  }

  /** Ends the execution's task-token waits with `why` (their states fail with it). */
  private rejectWaits(execution: LocalExecution, why: Error): void {
    for (const token of execution.tokens) {
      this.waiters.get(token)?.reject(why);
      this.waiters.delete(token);
    }
    execution.tokens.clear();
  }

  private async run(execution: LocalExecution): Promise<void> {
    const outcome = await executeLocally(
      this.options.definition,
      { ...execution.input },
      this.options.handlersFor(execution),
      { name: execution.runId, signal: execution.controller.signal },
    ).catch(
      (error: unknown): ExecutionReport => ({
        status: "FAILED",
        error: { Error: "States.Runtime", Cause: (error as Error).message },
        visited: [],
      }),
    );
    this.options.onExecuted?.(execution.runId, outcome);
    if (execution.interrupted) return;
    await this.endAbandoned(execution);
    const detail: ExecutionStatusDetail = execution.stopped
      ? { executionArn: execution.arn, name: execution.runId, status: "ABORTED", ...execution.stopped }
      : outcome.status === "SUCCEEDED"
        ? { executionArn: execution.arn, name: execution.runId, status: "SUCCEEDED" }
        : {
            executionArn: execution.arn,
            name: execution.runId,
            status: "FAILED",
            error: outcome.error?.Error ?? null,
            cause: outcome.error?.Cause ?? null,
          };
    this.options.log?.(`[${execution.runId}] execution ${detail.status.toLowerCase()}`);
    try {
      await this.options.onStatusChange(detail);
    } catch (error) {
      this.options.log?.(
        `[${execution.runId}] could not record the end of the execution: ${(error as Error).message}`,
      );
    }
  }

  /**
   * The execution has ended, but work of its Map iterations may still run: when one iteration fails
   * (the lead's LeadFailed), Step Functions stops the others ("If any iteration fails ... the entire
   * Map state is considered to have failed and all its iterations are stopped", Amazon States
   * Language, Map state) and with them their `.sync` tasks, while the interpreter just stops
   * waiting for them. A teammate's runner left so would run on after its run ended, so its
   * processes get the stop a task of a stopped execution gets, and its waits end.
   */
  private async endAbandoned(execution: LocalExecution): Promise<void> {
    const why = new StatesError("States.Runtime", "The execution ended; this state's iteration was stopped.");
    // Nothing of an ended execution starts any more (runContainer checks this).
    execution.controller.abort(why);
    if (execution.processes.size === 0 && execution.tokens.size === 0) return;
    this.rejectWaits(execution, why);
    this.options.log?.(
      `[${execution.runId}] stopping ${execution.processes.size} process(es) of iterations the ended execution left`,
    );
    await Promise.all([...execution.processes].map((p) => p.stop()));
  }

  /** StopExecution: no Catch, no Cleanup; the run's processes get SIGTERM, its waits end. */
  async stop(executionArn: string, reason: { error: string; cause: string }): Promise<void> {
    const execution = this.executions.get(runIdOfArn(executionArn));
    if (!execution || execution.state === "ended") return;
    execution.stopped ??= reason;
    await this.halt(execution, new StatesError(reason.error, reason.cause));
  }

  private async halt(execution: LocalExecution, why: Error, kill = false): Promise<void> {
    const queued = this.queue.indexOf(execution);
    if (queued >= 0) {
      // Never started: end it here (the interpreter would abort at once).
      this.queue.splice(queued, 1);
    }
    execution.controller.abort(why);
    this.rejectWaits(execution, why);
    await Promise.all([...execution.processes].map((p) => (kill ? p.kill() : p.stop())));
    if (queued >= 0) this.runToEnd(execution);
  }

  /**
   * A `.waitForTaskToken` state's token: unique, registered before the bound handler stores it,
   * so a SendTaskSuccess arriving at any time after that resolves the wait.
   */
  registerToken(
    execution: LocalExecution,
    kind: string,
    /** The state's end (its timeout): the token is forgotten, a later SendTaskSuccess is ignored. */
    stateSignal?: AbortSignal,
  ): { token: string; wait: Promise<Record<string, unknown>> } {
    const token = `local:${execution.runId}:${kind}:${randomUUID()}`;
    let waiter!: Waiter;
    const wait = new Promise<Record<string, unknown>>((resolve, reject) => {
      waiter = { runId: execution.runId, resolve, reject };
    });
    wait.catch(() => undefined); // a wait rejected after its state was abandoned is not unhandled
    if (execution.aborted) waiter.reject(new StatesError("ExecutionAborted", "The execution was stopped."));
    else {
      this.waiters.set(token, waiter);
      execution.tokens.add(token);
    }
    const forget = () => {
      this.waiters.delete(token);
      execution.tokens.delete(token);
    };
    wait.then(forget, forget);
    if (stateSignal) {
      const abandon = () => waiter.reject(stateSignal.reason as Error);
      if (stateSignal.aborted) abandon();
      else stateSignal.addEventListener("abort", abandon, { once: true });
      wait.then(
        () => stateSignal.removeEventListener("abort", abandon),
        () => stateSignal.removeEventListener("abort", abandon),
      );
    }
    return { token, wait };
  }

  /** SendTaskSuccess; a token that is unknown or already used is ignored (as SfnTaskTokenResolver does). */
  async succeed(taskToken: string, output: Record<string, unknown>): Promise<void> {
    const waiter = this.waiters.get(taskToken);
    this.waiters.delete(taskToken);
    waiter?.resolve(output);
  }

  async fail(taskToken: string, error: string, cause: string): Promise<void> {
    const waiter = this.waiters.get(taskToken);
    this.waiters.delete(taskToken);
    waiter?.reject(new StatesError(error, cause));
  }

  /**
   * Shutdown: every execution is aborted and its processes killed (SIGKILL, so no runner records
   * its agent as stopped), and nothing is recorded as ended: the runs stay in progress for the
   * next start to resume.
   */
  async shutdown(): Promise<string[]> {
    this.closing = true;
    const interrupted: string[] = [];
    const all = [...this.executions.values()];
    for (const execution of all) {
      execution.interrupted = true;
      interrupted.push(execution.runId);
    }
    this.queue.length = 0;
    await Promise.all(
      all.map((e) => this.halt(e, new StatesError("LocalStackStopped", "The local stack stopped."), true)),
    );
    await Promise.all(all.filter((e) => e.state === "running").map((e) => e.ended));
    return interrupted;
  }
}
