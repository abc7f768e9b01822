import type { Team } from "../../core/team-protocol/team.ts";
import type { Task } from "../../core/team-protocol/types.ts";
import { errorMessage, type Logger, silentLogger } from "./logger.ts";
import type { AgentStateSink, TaskCounts } from "./store-sink.ts";

/** TASKS/DONE of a run: every task that is not deleted, and those completed. */
export function countTasks(tasks: readonly Pick<Task, "status">[]): TaskCounts {
  const live = tasks.filter((t) => t.status !== "deleted");
  return { total: live.length, done: live.filter((t) => t.status === "completed").length };
}

export interface TaskCountReporterOptions {
  /** Recount at least this often (the heartbeat interval). */
  intervalMs: number;
  log?: Logger;
}

/**
 * Keeps the run's `status.tasks` in the store in step with the task files. Only the lead's runner
 * runs one (one writer per run, so no write races another). It counts on a timer and whenever the
 * session loop has listed the tasks anyway, and writes only when the counts differ from what it
 * last stored: a run whose tasks do not change costs no writes. A failed write is logged and
 * tried again with the next count.
 */
export class TaskCountReporter {
  private timer: NodeJS.Timeout | undefined;
  private stored: TaskCounts | undefined;
  private latest: TaskCounts | undefined;
  private sending: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly team: Team,
    private readonly sink: Required<Pick<AgentStateSink, "setTaskCounts">>,
    private readonly options: TaskCountReporterOptions,
  ) {
    this.log = options.log ?? silentLogger;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.recount(), this.options.intervalMs);
    this.timer.unref();
  }

  /** A listing of the (not deleted) tasks the caller made anyway. */
  observe(tasks: readonly Pick<Task, "status">[]): void {
    this.latest = countTasks(tasks);
    void this.send();
  }

  /** Lists the tasks and stores their counts if they changed. Never throws. */
  async recount(): Promise<void> {
    try {
      this.latest = countTasks(await this.team.listTasks());
    } catch (error) {
      this.log.warn("Could not count the run's tasks", { error: errorMessage(error) });
      return;
    }
    await this.send();
  }

  /** Stops the timer and stores the final counts. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.recount();
  }

  private async send(): Promise<void> {
    // One write at a time; a count that arrives meanwhile is sent when the write returns.
    while (this.sending) await this.sending;
    const counts = this.latest;
    if (!counts || (this.stored && same(this.stored, counts))) return;
    this.sending = (async () => {
      try {
        await this.sink.setTaskCounts(counts);
        this.stored = counts;
      } catch (error) {
        this.log.warn("Could not store the run's task counts", { error: errorMessage(error), ...counts });
      }
    })();
    await this.sending;
    this.sending = undefined;
  }
}

function same(a: TaskCounts, b: TaskCounts): boolean {
  return a.total === b.total && a.done === b.done;
}
