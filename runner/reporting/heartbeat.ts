import type { Team } from "../../core/team-protocol/team.ts";
import type { MemberStatus } from "../../core/team-protocol/types.ts";
import { errorMessage, type Logger, silentLogger } from "./logger.ts";
import type { AgentStateSink } from "./store-sink.ts";

export interface HeartbeatOptions {
  intervalMs: number;
  log?: Logger;
}

/**
 * Writes the agent's heartbeat (and member status) to team/config.json and to the store every
 * few seconds while the runner lives. A failed beat is logged and tried again next time; it
 * never stops the agent.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly team: Team,
    private readonly agent: string,
    private readonly sink: AgentStateSink,
    private readonly options: HeartbeatOptions,
  ) {
    this.log = options.log ?? silentLogger;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.beat(), this.options.intervalMs);
    this.timer.unref();
  }

  /**
   * Changes the member status and beats at once, so teammates see the change without delay.
   * Periodic beats carry no status: they must not overwrite `finished`, which the `finish` tool
   * writes from the MCP server while a turn runs.
   */
  async setStatus(status: MemberStatus): Promise<void> {
    await this.beating;
    await this.beat(status);
  }

  /** One heartbeat to both places; overlapping periodic calls share one. Never throws. */
  beat(status?: MemberStatus): Promise<void> {
    if (this.beating && !status) return this.beating;
    const beat = (async () => {
      const at = new Date();
      const [file, store] = await Promise.allSettled([
        this.team.heartbeat(this.agent, status),
        this.sink.heartbeat(at),
      ]);
      if (file.status === "rejected") {
        this.log.warn("Heartbeat to team/config.json failed", { error: errorMessage(file.reason) });
      }
      if (store.status === "rejected") {
        this.log.warn("Heartbeat to the store failed", { error: errorMessage(store.reason) });
      }
    })().finally(() => {
      if (this.beating === beat) this.beating = undefined;
    });
    this.beating = beat;
    return beat;
  }

  /** Stops beating; `final` is written once more (e.g. finished, stopped, failed). */
  async stop(final?: MemberStatus): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    if (final) await this.setStatus(final);
  }
}
