import {
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from "@aws-sdk/client-sfn";
import type { TeamRunExecutionInput } from "../../state-machines/contract.ts";

/**
 * The control plane's view of Step Functions, as three small ports: AWS binds them to the SFN
 * API, local mode to aws-local-stepfunctions, tests to recorded-shape fakes.
 */

/** Starts a run's execution; the execution name is the run id, so a retry is harmless. */
export interface ExecutionStarter {
  start(input: TeamRunExecutionInput): Promise<{ executionArn: string }>;
}

export interface ExecutionStopper {
  stop(executionArn: string, reason: { error: string; cause: string }): Promise<void>;
}

/** Resumes a `.waitForTaskToken` state. A token already used or expired is not an error. */
export interface TaskTokenResolver {
  succeed(taskToken: string, output: Record<string, unknown>): Promise<void>;
  fail(taskToken: string, error: string, cause: string): Promise<void>;
}

/** The one method of SFNClient used here, so a fake needs nothing else. */
export type SfnSend = Pick<SFNClient, "send">;

export class SfnExecutionStarter implements ExecutionStarter {
  constructor(
    private readonly sfn: SfnSend,
    private readonly stateMachineArn: string,
  ) {}

  async start(input: TeamRunExecutionInput): Promise<{ executionArn: string }> {
    try {
      const out = await this.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: this.stateMachineArn,
          name: input.runId,
          input: JSON.stringify(input),
        }),
      );
      return { executionArn: out.executionArn as string };
    } catch (error) {
      // Same name, different input: a run id is never reused with other input, so this is a
      // retry of our own start whose input serialised differently. The execution exists.
      if (error instanceof ExecutionAlreadyExists) {
        return { executionArn: executionArnFor(this.stateMachineArn, input.runId) };
      }
      throw error;
    }
  }
}

/** arn:aws:states:r:a:stateMachine:NAME → arn:aws:states:r:a:execution:NAME:RUN */
export function executionArnFor(stateMachineArn: string, runId: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${runId}`;
}

export class SfnExecutionStopper implements ExecutionStopper {
  constructor(private readonly sfn: SfnSend) {}

  async stop(executionArn: string, reason: { error: string; cause: string }): Promise<void> {
    try {
      await this.sfn.send(
        new StopExecutionCommand({
          executionArn,
          error: reason.error.slice(0, 256),
          cause: reason.cause.slice(0, 32768),
        }),
      );
    } catch (error) {
      // Stopping an execution that already ended succeeds in SFN; one that never existed is moot.
      if (error instanceof ExecutionDoesNotExist) return;
      throw error;
    }
  }
}

function isStaleToken(error: unknown): boolean {
  return error instanceof TaskDoesNotExist || error instanceof TaskTimedOut || error instanceof InvalidToken;
}

export class SfnTaskTokenResolver implements TaskTokenResolver {
  constructor(private readonly sfn: SfnSend) {}

  async succeed(taskToken: string, output: Record<string, unknown>): Promise<void> {
    try {
      await this.sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));
    } catch (error) {
      if (!isStaleToken(error)) throw error;
    }
  }

  async fail(taskToken: string, error: string, cause: string): Promise<void> {
    try {
      await this.sfn.send(
        new SendTaskFailureCommand({ taskToken, error: error.slice(0, 256), cause: cause.slice(0, 32768) }),
      );
    } catch (err) {
      if (!isStaleToken(err)) throw err;
    }
  }
}
