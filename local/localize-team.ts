import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import type { RunManifest, RunManifestWriter } from "../core/control/run-manifest.ts";
import { FileRunManifestWriter } from "../core/control/run-manifest.ts";
import { workspaceRelativePath } from "../core/manifest/artifacts.ts";
import { renderBranchTemplate } from "../core/manifest/templates.ts";
import type { AgentCli, AgentSpec, AgentTeam } from "../core/manifest/types.ts";
import { normalEvent, warningEvent } from "../core/status/status.ts";
import type { TeamStore } from "../core/store/team-store.ts";
import { inScope } from "../runner/scope/match.ts";
import { defaultScript } from "../runner/scripted-agent/defaults.ts";
import { LOCALIZE_ANNOTATION, LOCALIZE_ENV, localizeRepository } from "./localize-repository.ts";

type Env = Record<string, string | undefined>;

/** What each agent CLI needs on this machine: its executable and one of its keys. */
const REQUIREMENTS: Record<Exclude<AgentCli, "scripted">, { command: string; keys: string[] }> = {
  claude: { command: "claude", keys: ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"] },
  codex: { command: "codex", keys: ["OPENAI_API_KEY", "CODEX_API_KEY"] },
  gemini: { command: "gemini", keys: ["GEMINI_API_KEY", "GOOGLE_API_KEY"] },
  aider: { command: "aider", keys: ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"] },
};

export function onPath(command: string, env: Env = process.env): boolean {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Why an agent CLI cannot run here (undefined: it can). */
export function unavailableBecause(cli: AgentCli, env: Env = process.env): string | undefined {
  if (cli === "scripted") return undefined;
  const need = REQUIREMENTS[cli];
  const missing: string[] = [];
  if (!onPath(need.command, env)) missing.push(`\`${need.command}\` is not on PATH`);
  if (!need.keys.some((k) => env[k])) missing.push(`${need.keys.join(" or ")} is not set`);
  return missing.length ? missing.join(" and ") : undefined;
}

export interface Simulation {
  agent: string;
  cli: AgentCli;
  why: string;
}

/** `file://./x` and `file://x` are relative to `baseDir` (the checkout); git only takes absolute ones. */
export function resolveRepositoryUrl(url: string, baseDir: string): string {
  const m = /^file:\/\/(.*)$/.exec(url);
  if (m) {
    const path = m[1] ?? "";
    return path.startsWith("/") ? url : `file://${resolve(baseDir, path)}`;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/]+@[^:]+:/.test(url) || isAbsolute(url)) return url;
  return resolve(baseDir, url);
}

/**
 * A file inside the agent's scope for its simulated work: the included file itself, or
 * `<name>.md` (or `<name>.<ext>` for a `*.ext` pattern) in the first included directory.
 */
export function fileInScope(agent: AgentSpec): string | undefined {
  const scope = agent.scope;
  if (!scope?.includePaths?.length) return undefined;
  for (const include of scope.includePaths) {
    const segments = include.split("/").filter(Boolean);
    const wild = segments.findIndex((seg) => /[*?[]/.test(seg));
    const candidates: string[] = [];
    if (wild < 0) {
      const path = segments.join("/");
      candidates.push(path, `${path}/${agent.name}.md`);
    } else {
      const dir = segments.slice(0, wild).join("/");
      const ext = /\*(\.[A-Za-z0-9]+)$/.exec(include)?.[1] ?? ".md";
      const prefix = dir ? `${dir}/` : "";
      candidates.push(`${prefix}${agent.name}${ext}`, `${prefix}${agent.name}.md`);
    }
    const found = candidates.find((c) => c && !c.endsWith("/") && inScope(c, scope) && /\.[^/]+$/.test(c));
    if (found) return found;
  }
  return undefined;
}

/**
 * The team as this machine runs it: agents whose CLI or key is missing run as scripted agents
 * (their own `script`, else the runner's default script for their role), and relative local
 * repository URLs point into `baseDir`. The stored manifest is left as the user wrote it.
 */
export function localizeTeam(
  team: AgentTeam,
  baseDir: string,
  env: Env = process.env,
): { team: AgentTeam; simulated: Simulation[] } {
  const copy = structuredClone(team);
  const simulated: Simulation[] = [];
  for (const agent of [copy.spec.lead, ...copy.spec.teammates]) {
    const why = unavailableBecause(agent.cli, env);
    if (agent.cli === "scripted")
      simulated.push({ agent: agent.name, cli: "scripted", why: "it is a scripted agent" });
    else if (why) {
      simulated.push({ agent: agent.name, cli: agent.cli, why });
      agent.cli = "scripted";
      // The runner's default script writes <name>.md at the root; a scoped teammate writes in its scope.
      const file = agent.role === "teammate" && !agent.script?.length ? fileInScope(agent) : undefined;
      if (file) {
        agent.script = defaultScript({
          name: agent.name,
          role: agent.role,
          members: [copy.spec.lead, ...copy.spec.teammates].map((a) => a.name),
          lead: copy.spec.lead.name,
          coding: copy.spec.mode !== "cowork",
          file,
          ...(agent.outputs?.length
            ? {
                declaredOutputs: agent.outputs
                  .map((o) => workspaceRelativePath(o.path) ?? "")
                  .filter(Boolean),
              }
            : {}),
        });
      }
    }
  }
  if (copy.spec.repository)
    copy.spec.repository.url = resolveRepositoryUrl(copy.spec.repository.url, baseDir);
  return { team: copy, simulated };
}

/**
 * Local mode's run manifest (`<runs>/<runId>/run.json`): the localized team, and the simulated
 * agents marked in the run's status and history, so `describe` and the logs say so.
 */
export class LocalRunManifestWriter implements RunManifestWriter {
  private readonly files: FileRunManifestWriter;

  constructor(
    runsDir: string,
    private readonly store: TeamStore,
    private readonly baseDir: string,
    private readonly log: (message: string) => void = () => {},
    private readonly env: Env = process.env,
  ) {
    this.files = new FileRunManifestWriter(runsDir);
  }

  async write(manifest: RunManifest): Promise<string> {
    const { team, simulated } = localizeTeam(manifest.team, this.baseDir, this.env);
    const ref = { namespace: team.metadata.namespace, name: team.metadata.name };
    if (team.spec.repository) {
      const moved = await localizeRepository(
        team.spec.repository,
        team.metadata.annotations,
        this.baseDir,
        this.env,
      );
      if (moved) {
        team.spec.repository.url = moved.to;
        team.spec.repository.branch = moved.branch;
        // No pull request can be opened on the demo repository: the merged branch is pushed to it.
        const pr = team.spec.lifecycle.onComplete === "create-pr";
        if (pr) team.spec.lifecycle.onComplete = "push-branch";
        // Every run of a name pushes to the one demo repository: a branch per run, so a team
        // deleted and applied again (or the README run twice) never meets its earlier push.
        team.spec.lifecycle.consolidatedBranchTemplate ??= "squadron/{{runId}}";
        const message =
          `Repository ${moved.from} cannot be reached from this machine (${moved.why}); this local run ` +
          `works on the demo repository ${moved.to} (${moved.branch}) instead. ` +
          `${pr ? `The merged branch is pushed there (${renderBranchTemplate(team.spec.lifecycle.consolidatedBranchTemplate, { team: team.metadata.name, namespace: team.metadata.namespace, runId: manifest.runId })}) instead of opening a pull request. ` : ""}` +
          `Opt out with the annotation ${LOCALIZE_ANNOTATION}: "false" or ${LOCALIZE_ENV}=false.`;
        this.log(`[${manifest.runId}] ${message}`);
        await this.store
          .appendEvent({ ...ref, runId: manifest.runId }, warningEvent("Localized", message))
          .catch(() => undefined);
      }
    }
    if (simulated.length > 0) {
      let changed = false;
      await this.store.updateStatus(ref, (status) => {
        changed = false;
        for (const s of simulated) {
          const agent = status.agents[s.agent];
          if (agent && !agent.simulated) {
            agent.simulated = true;
            changed = true;
          }
        }
        return changed ? status : undefined;
      });
      if (changed) {
        for (const s of simulated.filter((s) => s.cli !== "scripted")) {
          const message = `${s.agent} runs as a simulated agent (default script): ${s.cli} cannot run here because ${s.why}.`;
          this.log(`[${manifest.runId}] ${message}`);
          await this.store
            .appendEvent(
              { ...ref, runId: manifest.runId },
              normalEvent("Simulated", message, { agent: s.agent }),
            )
            .catch(() => undefined);
        }
      }
    }
    return this.files.write({ ...manifest, team });
  }
}
