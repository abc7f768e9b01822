import { type FSWatcher, watch } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { TeamFilesReader } from "../core/control/team-files.ts";
import type { TeamRunRef } from "../core/store/items.ts";
import type { TeamStore } from "../core/store/team-store.ts";

/**
 * Keeps a run's TASKS/DONE (`status.tasks`) in step with its task files. The local file system
 * has inotify, so each run's `tasks/` directory is watched while the run executes; a burst of
 * changes is counted once after a short pause.
 */
export class TaskCountSync {
  private readonly watchers = new Map<
    string,
    { watcher: FSWatcher; timer?: NodeJS.Timeout; syncing?: Promise<void> }
  >();

  constructor(
    private readonly store: TeamStore,
    private readonly files: TeamFilesReader,
    private readonly debounceMs = 150,
  ) {}

  async watch(runId: string, ref: TeamRunRef, tasksDir: string): Promise<void> {
    if (this.watchers.has(runId)) return;
    await mkdir(tasksDir, { recursive: true });
    const watcher = watch(tasksDir, () => {
      const entry = this.watchers.get(runId);
      if (!entry) return;
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => void this.sync(runId, ref), this.debounceMs);
    });
    watcher.on("error", () => undefined);
    this.watchers.set(runId, { watcher });
  }

  /** Counts the run's tasks and stores the counts when they changed. */
  async sync(runId: string, ref: TeamRunRef): Promise<void> {
    const tasks = await this.files.tasks(runId).catch(() => undefined);
    if (!tasks) return;
    const total = tasks.filter((t) => t.status !== "deleted").length;
    const done = tasks.filter((t) => t.status === "completed").length;
    await this.store
      .updateStatus(ref, (status) => {
        if (status.tasks.total === total && status.tasks.done === done) return undefined;
        return { ...status, tasks: { total, done } };
      })
      .catch(() => undefined);
  }

  /** Stops watching and counts one last time. */
  async unwatch(runId: string, ref: TeamRunRef): Promise<void> {
    const entry = this.watchers.get(runId);
    if (!entry) return;
    this.watchers.delete(runId);
    clearTimeout(entry.timer);
    entry.watcher.close();
    await this.sync(runId, ref);
  }

  close(): void {
    for (const entry of this.watchers.values()) {
      clearTimeout(entry.timer);
      entry.watcher.close();
    }
    this.watchers.clear();
  }
}
