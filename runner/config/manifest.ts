import { readFile } from "node:fs/promises";
import type { RunManifest } from "../../core/control/run-manifest.ts";
import type { AgentSpec, AgentTeam } from "../../core/manifest/types.ts";
import { ConfigError } from "./exit-codes.ts";
import { loadS3Access } from "./load-s3-access.ts";

export type { RunManifest };

/**
 * Reads the run manifest the control plane wrote (`run.json`: `{runId, team, deadline}`, see
 * core/control/run-manifest.ts) from a file or `s3://bucket/key`. The team in it was validated
 * and normalized by the control plane, so only the shape the runner relies on is checked here:
 * a full re-parse would cost start-up time for no new information.
 */
export async function loadRunManifest(
  location: string,
  expectedRunId: string,
  options: { region?: string } = {},
): Promise<RunManifest> {
  const text = location.startsWith("s3://")
    ? await readS3Text(location, options.region)
    : await readFile(location, "utf8").catch((error: NodeJS.ErrnoException) => {
        throw new ConfigError(
          error.code === "ENOENT"
            ? `The run manifest ${location} does not exist: the control plane writes it before starting the runner (set SQUADRON_RUN_MANIFEST or SQUADRON_TEAM_DIR).`
            : `Cannot read the run manifest ${location}: ${error.message}`,
        );
      });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`The run manifest ${location} is not JSON: ${(error as Error).message}`);
  }
  return checkRunManifest(value, location, expectedRunId);
}

export function checkRunManifest(value: unknown, location: string, expectedRunId: string): RunManifest {
  const bad = (what: string) => new ConfigError(`The run manifest ${location} is invalid: ${what}.`);
  if (!value || typeof value !== "object") throw bad("expected a JSON object {runId, team, deadline}");
  const manifest = value as Partial<RunManifest>;
  if (typeof manifest.runId !== "string" || !manifest.runId) throw bad("runId is missing");
  if (manifest.runId !== expectedRunId) {
    throw new ConfigError(
      `The run manifest ${location} belongs to run ${manifest.runId}, but SQUADRON_RUN_ID is ${expectedRunId}.`,
    );
  }
  const team = manifest.team as Partial<AgentTeam> | undefined;
  if (team?.kind !== "AgentTeam") throw bad('team must be a normalized AgentTeam (kind "AgentTeam")');
  if (!team.metadata?.name || !team.metadata.namespace)
    throw bad("team.metadata.name and namespace are required");
  const spec = team.spec;
  if (!spec || (spec.mode !== "coding" && spec.mode !== "cowork"))
    throw bad('team.spec.mode must be "coding" or "cowork"');
  if (!spec.lead?.name || !Array.isArray(spec.teammates))
    throw bad("team.spec.lead and team.spec.teammates are required");
  for (const [i, agent] of [spec.lead, ...spec.teammates].entries()) {
    const where = i === 0 ? "team.spec.lead" : `team.spec.teammates[${i - 1}]`;
    if (!agent.name || !agent.cli || !agent.model || typeof agent.prompt !== "string") {
      throw bad(`${where} needs name, cli, model and prompt`);
    }
  }
  if (!spec.lifecycle || !spec.coordination)
    throw bad("team.spec.lifecycle and team.spec.coordination are required");
  if (typeof manifest.deadline !== "string" || Number.isNaN(Date.parse(manifest.deadline))) {
    throw bad("deadline must be an ISO 8601 time");
  }
  return manifest as RunManifest;
}

/** The agent named `name`, or a ConfigError listing the team's agents. */
export function findAgent(team: AgentTeam, name: string): AgentSpec {
  const all = [team.spec.lead, ...team.spec.teammates];
  const agent = all.find((a) => a.name === name);
  if (!agent) {
    throw new ConfigError(
      `SQUADRON_AGENT_NAME is "${name}", but team ${team.metadata.name} has no such agent; its agents are: ${all.map((a) => a.name).join(", ")}.`,
    );
  }
  return agent;
}

async function readS3Text(url: string, region?: string): Promise<string> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (!match) throw new ConfigError(`SQUADRON_RUN_MANIFEST ${url} is not an s3://bucket/key URL.`);
  const text = await (await loadS3Access()).readS3Object(match[1] as string, match[2] as string, region);
  if (text === undefined) {
    throw new ConfigError(
      `The run manifest ${url} does not exist: the control plane writes it before starting the runner.`,
    );
  }
  return text;
}
