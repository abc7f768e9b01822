import { createHash } from "node:crypto";
import {
  ConflictException,
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
  UpdateScheduleCommand,
} from "@aws-sdk/client-scheduler";
import type { AgentTeamSchedule } from "../manifest/types.ts";
import { nextFire, toSchedulerExpression } from "./cron.ts";
import type { ScheduleFire } from "./fire.ts";

/**
 * What makes a stored schedule fire: one EventBridge Scheduler schedule per Squadron schedule in
 * AWS, one timer set to the next fire time locally. The API calls `sync` after every write of a
 * schedule (apply, suspend, resume) and `remove` after a delete.
 */
export interface ScheduleTimers {
  sync(schedule: AgentTeamSchedule): Promise<void>;
  remove(namespace: string, name: string): Promise<void>;
}

export interface EventBridgeScheduleOptions {
  /** The function that receives the fires (the api function: lambdas/api/handler.ts). */
  targetArn: () => string;
  /** The role Scheduler assumes to invoke it. */
  roleArn: string;
  groupName: string;
}

/**
 * Scheduler names are 1-64 of [0-9a-zA-Z-_.]; namespace and name are DNS labels (no dots), so
 * `<namespace>.<name>` is unambiguous, and a hash suffix keeps long pairs unique.
 */
export function schedulerNameFor(namespace: string, name: string): string {
  const base = `${namespace}.${name}`;
  if (base.length <= 64) return base;
  return `${base.slice(0, 55)}-${createHash("sha256").update(base).digest("hex").slice(0, 8)}`;
}

export class EventBridgeScheduleTimers implements ScheduleTimers {
  constructor(
    private readonly scheduler: Pick<SchedulerClient, "send">,
    private readonly options: EventBridgeScheduleOptions,
  ) {}

  /** UpdateSchedule replaces the whole definition; a schedule not created yet is created. */
  async sync(schedule: AgentTeamSchedule): Promise<void> {
    const input = this.definition(schedule);
    try {
      await this.scheduler.send(new UpdateScheduleCommand(input));
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      try {
        await this.scheduler.send(new CreateScheduleCommand(input));
      } catch (created) {
        // Created by a concurrent apply in between: set it to this definition.
        if (!(created instanceof ConflictException)) throw created;
        await this.scheduler.send(new UpdateScheduleCommand(input));
      }
    }
  }

  async remove(namespace: string, name: string): Promise<void> {
    try {
      await this.scheduler.send(
        new DeleteScheduleCommand({
          Name: schedulerNameFor(namespace, name),
          GroupName: this.options.groupName,
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }

  definition(schedule: AgentTeamSchedule): CreateScheduleCommandInput {
    const { namespace, name } = schedule.metadata;
    // The fire window comes from the schedule itself: Scheduler replaces the context attribute
    // <aws.scheduler.scheduled-time> in the target input with "the time you specified for the
    // schedule to invoke its target" (Scheduler user guide, managing-schedule-context-attributes),
    // so a retried invocation carries the same window and creates no second run.
    const fire: ScheduleFire = {
      source: "squadron.schedule",
      namespace,
      name,
      scheduledTime: "<aws.scheduler.scheduled-time>",
    };
    return {
      Name: schedulerNameFor(namespace, name),
      GroupName: this.options.groupName,
      ScheduleExpression: toSchedulerExpression(schedule.spec.schedule),
      ScheduleExpressionTimezone: schedule.spec.timeZone,
      State: schedule.spec.suspend ? "DISABLED" : "ENABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: this.options.targetArn(),
        RoleArn: this.options.roleArn,
        Input: JSON.stringify(fire),
        // A fire that cannot be delivered within the hour is dropped rather than run late.
        RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
      },
      Description: `Squadron schedule ${namespace}/${name}`,
    };
  }
}

export interface TimerScheduleOptions {
  /** Clock, replaceable in tests (the timer still waits in real time for the difference). */
  now?: () => Date;
  onError?: (error: unknown) => void;
}

/**
 * Local mode: one timer per schedule, set to its next fire time (no polling). When it goes off it
 * calls the same fire function as the AWS target, with that fire time as the window, and sets
 * itself to the following one.
 */
export class TimerScheduleTimers implements ScheduleTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly now: () => Date;

  constructor(
    private readonly fire: (fire: ScheduleFire) => Promise<unknown>,
    private readonly options: TimerScheduleOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  async sync(schedule: AgentTeamSchedule): Promise<void> {
    const { namespace, name } = schedule.metadata;
    this.clear(namespace, name);
    if (schedule.spec.suspend) return;
    this.arm(schedule, nextFire(schedule.spec.schedule, schedule.spec.timeZone, this.now()));
  }

  async remove(namespace: string, name: string): Promise<void> {
    this.clear(namespace, name);
  }

  /** The schedules with a timer set (by `<namespace>/<name>`). */
  armed(): string[] {
    return [...this.timers.keys()];
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private arm(schedule: AgentTeamSchedule, at: Date): void {
    const { namespace, name } = schedule.metadata;
    const key = `${namespace}/${name}`;
    // setTimeout caps at ~24.8 days; a later fire is re-armed when the first timer goes off.
    const delay = Math.min(Math.max(0, at.getTime() - this.now().getTime()), 2_000_000_000);
    const timer = setTimeout(() => {
      if (this.timers.get(key) !== timer) return;
      if (this.now().getTime() < at.getTime()) {
        this.arm(schedule, at);
        return;
      }
      this.arm(schedule, nextFire(schedule.spec.schedule, schedule.spec.timeZone, at));
      void this.fire({ source: "squadron.schedule", namespace, name, scheduledTime: at.toISOString() }).catch(
        (error: unknown) => this.options.onError?.(error),
      );
    }, delay);
    timer.unref();
    this.timers.set(key, timer);
  }

  private clear(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const timer = this.timers.get(key);
    if (timer) clearTimeout(timer);
    this.timers.delete(key);
  }
}
