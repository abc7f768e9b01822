import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
} from "@aws-sdk/client-scheduler";

/** Arms and disarms the one-shot timer that enforces a run's timeout (no polling anywhere). */
export interface DeadlineScheduler {
  arm(runId: string, deadline: Date): Promise<void>;
  disarm(runId: string): Promise<void>;
}

/** What the timer delivers to the deadline handler. */
export interface DeadlineFired {
  source: "squadron.deadline";
  runId: string;
}

export interface EventBridgeDeadlineOptions {
  /** ARN of the deadline Lambda. */
  targetArn: string;
  /** Role EventBridge Scheduler assumes to invoke it. */
  roleArn: string;
  groupName?: string;
}

export function scheduleNameFor(runId: string): string {
  return `squadron-deadline-${runId}`.slice(0, 64);
}

/** `at()` expressions take a UTC time without zone or fractional seconds. */
export function atExpression(deadline: Date): string {
  return `at(${deadline.toISOString().slice(0, 19)})`;
}

export class EventBridgeDeadlineScheduler implements DeadlineScheduler {
  constructor(
    private readonly scheduler: Pick<SchedulerClient, "send">,
    private readonly options: EventBridgeDeadlineOptions,
  ) {}

  async arm(runId: string, deadline: Date): Promise<void> {
    const input: DeadlineFired = { source: "squadron.deadline", runId };
    try {
      await this.scheduler.send(
        new CreateScheduleCommand({
          Name: scheduleNameFor(runId),
          GroupName: this.options.groupName,
          ScheduleExpression: atExpression(deadline),
          ScheduleExpressionTimezone: "UTC",
          FlexibleTimeWindow: { Mode: "OFF" },
          // The schedule removes itself once fired; disarm covers runs that end earlier.
          ActionAfterCompletion: "DELETE",
          Target: {
            Arn: this.options.targetArn,
            RoleArn: this.options.roleArn,
            Input: JSON.stringify(input),
            RetryPolicy: { MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 3600 },
          },
          Description: `Squadron deadline of run ${runId}`,
        }),
      );
    } catch (error) {
      // A retried Prepare: the schedule is already armed for this run.
      if (!(error instanceof ConflictException)) throw error;
    }
  }

  async disarm(runId: string): Promise<void> {
    try {
      await this.scheduler.send(
        new DeleteScheduleCommand({ Name: scheduleNameFor(runId), GroupName: this.options.groupName }),
      );
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }
}

/** Local mode: an in-process timer per run, calling the same deadline domain function. */
export class TimerDeadlineScheduler implements DeadlineScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly fire: (event: DeadlineFired) => Promise<void>) {}

  async arm(runId: string, deadline: Date): Promise<void> {
    await this.disarm(runId);
    // setTimeout caps at ~24.8 days; longer deadlines are re-armed when the first timer fires.
    const delay = Math.min(Math.max(0, deadline.getTime() - Date.now()), 2_000_000_000);
    const timer = setTimeout(() => {
      this.timers.delete(runId);
      if (Date.now() < deadline.getTime()) {
        void this.arm(runId, deadline);
        return;
      }
      void this.fire({ source: "squadron.deadline", runId }).catch(() => undefined);
    }, delay);
    timer.unref();
    this.timers.set(runId, timer);
  }

  /** Runs with a deadline timer armed (runs in progress only). */
  armed(): number {
    return this.timers.size;
  }

  async disarm(runId: string): Promise<void> {
    const timer = this.timers.get(runId);
    if (timer) clearTimeout(timer);
    this.timers.delete(runId);
  }
}
