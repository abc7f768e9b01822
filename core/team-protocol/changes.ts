import { type FSWatcher, watch } from "node:fs";
import { TeamLayout } from "./layout.ts";

/**
 * Wakes a waiter when the team's files change, instead of re-reading them on a short timer.
 *
 * Every protocol write replaces a file by rename (atomic-file.ts) inside one of a few
 * directories (inboxes, lifecycle, tasks, the team's config), and inotify reports such a rename
 * on the directory at once, so watching those directories sees every message, task and status
 * change made on this machine. A writer on another machine (other containers on EFS/NFS) does
 * not raise inotify events: the caller's safety poll (`wait(ms)`) still bounds how long a change
 * can go unseen, so correctness never depends on the watch, only the CPU spent idle does.
 *
 * No change is lost between a check and the next wait: an event sets `changed`, and `wait`
 * returns at once while it is set.
 */
export class TeamChanges {
  private readonly watchers: FSWatcher[] = [];
  private changed = false;
  private readonly wakers = new Set<() => void>();

  constructor(root: string) {
    const layout = new TeamLayout(root);
    for (const dir of [layout.teamDir, layout.inboxesDir, layout.lifecycleDir, layout.tasksDir]) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.signal());
        // A watched directory removed (the run cleaned up) or an inotify limit: the poll remains.
        watcher.on("error", () => watcher.close());
        this.watchers.push(watcher);
      } catch {
        // missing directory or no inotify: the safety poll alone
      }
    }
  }

  /** True when at least one directory is watched (otherwise `wait` is a plain sleep). */
  get watching(): boolean {
    return this.watchers.length > 0;
  }

  private signal(): void {
    this.changed = true;
    for (const wake of [...this.wakers]) wake();
  }

  /** Resolves at the first change since the previous wait, after `safetyPollMs`, or when aborted. */
  wait(safetyPollMs: number, signal?: AbortSignal): Promise<void> {
    if (this.changed || signal?.aborted) {
      this.changed = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.wakers.delete(done);
        this.changed = false;
        resolve();
      };
      const timer = setTimeout(done, safetyPollMs);
      signal?.addEventListener("abort", done, { once: true });
      this.wakers.add(done);
    });
  }

  close(): void {
    for (const watcher of this.watchers.splice(0)) watcher.close();
    for (const wake of [...this.wakers]) wake();
  }
}
