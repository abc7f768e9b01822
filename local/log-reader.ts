import { open, readdir } from "node:fs/promises";
import { join } from "node:path";

/** One line of runner output, as `squadron logs` prints it. */
export interface RunLogLine {
  agent: string;
  time: string;
  line: string;
}

/**
 * Runner output of a local run: `<logs>/<runId>/<agent|init|finalize>.log`, JSON lines written by
 * the runner (and a closing line by the stack). The page token holds a byte offset per file, so
 * `logs -f` polling with it reads only what was appended since.
 */
export class FileRunLogs {
  constructor(private readonly logsDir: string) {}

  async read(
    runId: string,
    options: { agent?: string; since?: string; nextToken?: string; limit?: number } = {},
  ): Promise<{ items: RunLogLine[]; nextToken: string }> {
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) throw new RangeError(`invalid run id ${runId}`);
    const offsets: Record<string, number> = options.nextToken
      ? (JSON.parse(Buffer.from(options.nextToken, "base64url").toString("utf8")) as Record<string, number>)
      : {};
    const dir = join(this.logsDir, runId);
    const files = (await readdir(dir).catch(() => [] as string[]))
      .filter((f) => f.endsWith(".log"))
      .map((f) => f.slice(0, -4))
      .filter((name) => options.agent === undefined || name === options.agent);
    const since = options.since ? Date.parse(options.since) : Number.NEGATIVE_INFINITY;
    const items: RunLogLine[] = [];
    for (const agent of files) {
      const handle = await open(join(dir, `${agent}.log`), "r");
      try {
        const start = offsets[agent] ?? 0;
        const { size } = await handle.stat();
        if (size <= start) continue;
        const buffer = Buffer.alloc(size - start);
        await handle.read(buffer, 0, buffer.length, start);
        const text = buffer.toString("utf8");
        const complete = text.lastIndexOf("\n") + 1; // a half-written last line waits for the next read
        offsets[agent] = start + Buffer.byteLength(text.slice(0, complete));
        for (const raw of text.slice(0, complete).split("\n")) {
          if (!raw.trim()) continue;
          let time = "";
          try {
            time = String((JSON.parse(raw) as { timestamp?: unknown }).timestamp ?? "");
          } catch {
            // not JSON: keep the line as it is
          }
          if (time && Date.parse(time) < since) continue;
          items.push({ agent, time, line: raw });
        }
      } finally {
        await handle.close();
      }
    }
    items.sort((a, b) => a.time.localeCompare(b.time));
    const limited = options.limit ? items.slice(-options.limit) : items;
    return { items: limited, nextToken: Buffer.from(JSON.stringify(offsets)).toString("base64url") };
  }
}
