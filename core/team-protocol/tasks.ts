import { readdir, readFile } from "node:fs/promises";
import { readJson, writeFileAtomic, writeJsonAtomic } from "./atomic-file.ts";
import { isoNow, type ProtocolContext } from "./context.ts";
import { ProtocolError } from "./errors.ts";
import { TASK_FILE } from "./layout.ts";
import { withLock } from "./lock.ts";
import { readConfig, requireMember } from "./members.ts";
import type { Task, TaskStatus } from "./types.ts";

/**
 * The shared task list. Every change happens under one lock (locks/tasks.lock) because a claim
 * reads the blockers and a completion writes the dependants: one lock keeps those multi-file
 * decisions consistent. Readers (task_list) take no lock; each file is replaced atomically.
 *
 * `blockedBy` is authoritative (the claim check reads the blockers' statuses); `blocks` is the
 * reverse index for readers, so a crash between writing the two files cannot unblock a task
 * early or block one forever.
 */

export interface CreateTaskInput {
  subject: string;
  description?: string;
  owner?: string | null;
  blockedBy?: string[];
}

export interface TaskFilter {
  status?: TaskStatus;
  owner?: string;
}

export interface TaskPatch {
  status?: TaskStatus;
  owner?: string | null;
  description?: string;
  subject?: string;
}

const ID = /^\d+$/;

export async function createTask(ctx: ProtocolContext, input: CreateTaskInput): Promise<Task> {
  if (!input.subject.trim()) {
    throw new ProtocolError("The task subject is empty; give the task a short imperative title.", "invalid");
  }
  if (input.owner) requireMember(await readConfig(ctx), input.owner);
  const blockerIds = [...new Set(input.blockedBy ?? [])].map(checkId);
  return locked(ctx, async () => {
    const blockers = await Promise.all(blockerIds.map((id) => requireTask(ctx, id)));
    const id = String(await nextId(ctx));
    const now = isoNow(ctx);
    const task: Task = {
      id,
      subject: input.subject.trim(),
      description: input.description ?? "",
      status: "pending",
      owner: input.owner || null,
      blocks: [],
      // A blocker that is already done (or deleted) does not block.
      blockedBy: blockers.filter((blocker) => isOpen(blocker.status)).map((blocker) => blocker.id),
      createdAt: now,
      updatedAt: now,
    };
    await writeTask(ctx, task);
    for (const blocker of blockers) {
      if (!isOpen(blocker.status) || blocker.blocks.includes(id)) continue;
      await writeTask(ctx, { ...blocker, blocks: [...blocker.blocks, id], updatedAt: now });
    }
    return task;
  });
}

export async function getTask(ctx: ProtocolContext, id: string): Promise<Task> {
  return requireTask(ctx, checkId(id));
}

/** Tasks sorted by id. Deleted tasks are only listed when asked for by status. */
export async function listTasks(ctx: ProtocolContext, filter: TaskFilter = {}): Promise<Task[]> {
  let names: string[];
  try {
    names = await readdir(ctx.layout.tasksDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const ids = names
    .map((name) => TASK_FILE.exec(name)?.[1])
    .filter((id): id is string => id !== undefined)
    .sort((a, b) => Number(a) - Number(b));
  const tasks = (await Promise.all(ids.map((id) => readJson<Task>(ctx.layout.task(id))))).filter(
    (task): task is Task => task !== undefined,
  );
  return tasks.filter(
    (task) =>
      (filter.status ? task.status === filter.status : task.status !== "deleted") &&
      (filter.owner === undefined || task.owner === filter.owner),
  );
}

/**
 * Takes a task for `agent`: exclusive (under the tasks lock), refused when someone else owns
 * it, when it is finished or deleted, or while a task it is blocked by is not completed.
 * Claiming a task you already have in progress returns it unchanged.
 */
export async function claimTask(ctx: ProtocolContext, id: string, agent: string): Promise<Task> {
  checkId(id);
  requireMember(await readConfig(ctx), agent);
  return locked(ctx, async () => {
    const task = await requireTask(ctx, id);
    if (task.owner && task.owner !== agent) {
      throw new ProtocolError(
        task.status === "in_progress" || task.status === "completed"
          ? `Task ${id} is already claimed by ${task.owner}.`
          : `Task ${id} is assigned to ${task.owner}; only they can claim it.`,
        "already_claimed",
      );
    }
    if (task.status === "completed") throw new ProtocolError(`Task ${id} is already completed.`, "invalid");
    if (task.status === "deleted") throw new ProtocolError(`Task ${id} was deleted.`, "invalid");
    if (task.status === "in_progress" && task.owner === agent) return task;
    await ensureUnblocked(ctx, task);
    const claimed: Task = { ...task, owner: agent, status: "in_progress", updatedAt: isoNow(ctx) };
    await writeTask(ctx, claimed);
    return claimed;
  });
}

/**
 * Changes a task's status, owner or text. Moving it to in_progress or completed is refused
 * while it is blocked; completing or deleting it unblocks its dependants.
 */
export async function updateTask(ctx: ProtocolContext, id: string, patch: TaskPatch): Promise<Task> {
  checkId(id);
  if (patch.owner) requireMember(await readConfig(ctx), patch.owner);
  if (patch.subject !== undefined && !patch.subject.trim()) {
    throw new ProtocolError("The task subject cannot be empty.", "invalid");
  }
  return locked(ctx, async () => {
    const task = await requireTask(ctx, id);
    const status = patch.status ?? task.status;
    if (status !== task.status && (status === "in_progress" || status === "completed")) {
      await ensureUnblocked(ctx, task);
    }
    const now = isoNow(ctx);
    const updated: Task = {
      ...task,
      ...(patch.subject !== undefined ? { subject: patch.subject.trim() } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.owner !== undefined ? { owner: patch.owner || null } : {}),
      status,
      updatedAt: now,
    };
    await writeTask(ctx, updated);
    if (isOpen(task.status) && !isOpen(status)) await unblockDependants(ctx, updated, now);
    return updated;
  });
}

async function ensureUnblocked(ctx: ProtocolContext, task: Task): Promise<void> {
  for (const blockerId of task.blockedBy) {
    const blocker = await readJson<Task>(ctx.layout.task(blockerId));
    if (blocker && isOpen(blocker.status)) {
      throw new ProtocolError(
        `Task ${task.id} is blocked by task ${blockerId}, which is not completed yet.`,
        "blocked",
      );
    }
  }
}

async function unblockDependants(ctx: ProtocolContext, done: Task, now: string): Promise<void> {
  for (const dependantId of done.blocks) {
    const dependant = await readJson<Task>(ctx.layout.task(dependantId));
    if (!dependant?.blockedBy.includes(done.id)) continue;
    const blockedBy = dependant.blockedBy.filter((blockerId) => blockerId !== done.id);
    await writeTask(ctx, { ...dependant, blockedBy, updatedAt: now });
  }
}

function isOpen(status: TaskStatus): boolean {
  return status === "pending" || status === "in_progress";
}

function checkId(id: string): string {
  if (!ID.test(id)) throw new ProtocolError(`Task ids are numbers such as "3"; got '${id}'.`, "invalid");
  return String(Number(id));
}

async function requireTask(ctx: ProtocolContext, id: string): Promise<Task> {
  const task = await readJson<Task>(ctx.layout.task(id));
  if (!task) {
    throw new ProtocolError(`There is no task ${id}; call task_list to see the existing tasks.`, "not_found");
  }
  return task;
}

async function writeTask(ctx: ProtocolContext, task: Task): Promise<void> {
  await writeJsonAtomic(ctx.layout.task(task.id), task);
}

function locked<T>(ctx: ProtocolContext, fn: () => Promise<T>): Promise<T> {
  return withLock(ctx.layout.tasksLock, fn, ctx.lock);
}

/**
 * Hands out the next id (call under the tasks lock). The counter is written before the task
 * so a crash in between leaves a gap, never a reused id. Without a counter file (first task,
 * or deleted by hand) it continues after the highest existing task file.
 */
async function nextId(ctx: ProtocolContext): Promise<number> {
  let last: number;
  try {
    last = Number.parseInt(await readFile(ctx.layout.taskCounter, "utf8"), 10);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    last = Number.NaN;
  }
  if (!Number.isFinite(last)) {
    const names = await readdir(ctx.layout.tasksDir);
    last = Math.max(0, ...names.map((name) => Number(TASK_FILE.exec(name)?.[1] ?? 0)));
  }
  const next = last + 1;
  await writeFileAtomic(ctx.layout.taskCounter, `${next}\n`);
  return next;
}
