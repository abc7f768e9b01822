import { mkdir } from "node:fs/promises";
import { readJson, writeJsonAtomic } from "./atomic-file.ts";
import { isoNow, type ProtocolContext } from "./context.ts";
import { ProtocolError } from "./errors.ts";
import { safeName } from "./layout.ts";
import { withLock } from "./lock.ts";
import type { Member, MemberStatus, TeamConfig } from "./types.ts";

export interface MemberInit {
  name: string;
  role: Member["role"];
  cli: Member["cli"];
  model: string;
  simulated?: boolean;
}

export interface TeamInit {
  teamName: string;
  runId: string;
  members: MemberInit[];
}

/**
 * Creates the directory layout and team/config.json. Safe to run again (a restarted `init`):
 * members already present keep their status and heartbeat, new ones are added.
 */
export async function initTeam(ctx: ProtocolContext, init: TeamInit): Promise<TeamConfig> {
  const { layout } = ctx;
  const leads = init.members.filter((member) => member.role === "lead");
  if (leads.length !== 1) {
    throw new ProtocolError(`A team needs exactly one lead; got ${leads.length}.`, "invalid");
  }
  const seen = new Set<string>();
  for (const member of init.members) {
    safeName(member.name);
    if (member.name === "*") throw new ProtocolError("'*' is reserved for broadcasts.", "invalid");
    if (seen.has(member.name)) throw new ProtocolError(`Member '${member.name}' is listed twice.`, "invalid");
    seen.add(member.name);
  }
  for (const dir of [layout.inboxesDir, layout.lifecycleDir, layout.tasksDir, layout.locksDir]) {
    await mkdir(dir, { recursive: true });
  }
  return withLock(
    layout.configLock,
    async () => {
      const existing = await readJson<TeamConfig>(layout.config);
      if (existing && existing.runId !== init.runId) {
        throw new ProtocolError(
          `${layout.config} belongs to run ${existing.runId}, not ${init.runId}; use a fresh team directory per run.`,
          "invalid",
        );
      }
      const previous = new Map(existing?.members.map((member) => [member.name, member]));
      const config: TeamConfig = {
        teamName: init.teamName,
        runId: init.runId,
        createdAt: existing?.createdAt ?? isoNow(ctx),
        members: init.members.map((member) => ({
          name: member.name,
          role: member.role,
          cli: member.cli,
          model: member.model,
          status: previous.get(member.name)?.status ?? "pending",
          heartbeatAt: previous.get(member.name)?.heartbeatAt ?? null,
          simulated: member.simulated ?? false,
        })),
      };
      await writeJsonAtomic(layout.config, config);
      return config;
    },
    ctx.lock,
  );
}

export async function readConfig(ctx: ProtocolContext): Promise<TeamConfig> {
  const config = await readJson<TeamConfig>(ctx.layout.config);
  if (!config) {
    throw new ProtocolError(
      `The team is not initialised: ${ctx.layout.config} does not exist (run the runner's init mode first).`,
      "not_initialised",
    );
  }
  return config;
}

/** The member named `name`, or a refusal that lists who is on the team. */
export function requireMember(config: TeamConfig, name: string): Member {
  const member = config.members.find((candidate) => candidate.name === name);
  if (!member) {
    const names = config.members.map((candidate) => candidate.name).join(", ");
    throw new ProtocolError(`No member named '${name}'; members are: ${names}.`, "not_found");
  }
  return member;
}

export type MemberPatch = Partial<Pick<Member, "status" | "heartbeatAt">>;

export async function updateMember(ctx: ProtocolContext, name: string, patch: MemberPatch): Promise<Member> {
  return withLock(
    ctx.layout.configLock,
    async () => {
      const config = await readConfig(ctx);
      const member = requireMember(config, name);
      Object.assign(member, patch);
      await writeJsonAtomic(ctx.layout.config, config);
      return member;
    },
    ctx.lock,
  );
}

/** Records that the agent's runner is alive (and optionally its status) now. */
export async function heartbeat(ctx: ProtocolContext, name: string, status?: MemberStatus): Promise<Member> {
  return updateMember(ctx, name, { heartbeatAt: isoNow(ctx), ...(status ? { status } : {}) });
}
