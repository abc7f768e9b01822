/**
 * Records what the pinned Claude Code charges for each Anthropic model of core/prices' table:
 * one `claude -p` per model against the model-API stub, whose single reply reports 1M tokens of
 * each kind (input, output, cache read, cache write). Writes test/fixtures/cli/claude-prices.json,
 * which test/prices/claude-agreement.test.ts compares with the table. Rerun after a version bump:
 *   npx tsx scripts/record-claude-prices.ts
 */
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { costUsd, MODEL_PRICES } from "../core/prices/index.ts";
import { anthropicMessages, startModelApiStub } from "../test/support/model-api-stub/index.ts";

const usage = { inputTokens: 1e6, outputTokens: 1e6, cacheReadTokens: 1e6, cacheWriteTokens: 1e6 };
const stub = await startModelApiStub({ protocols: [anthropicMessages], play: { usage } });
const models = Object.keys(MODEL_PRICES).filter((m) => m.startsWith("claude"));
const recorded: Record<string, { chargedModel: string; costUsd: number }> = {};
await Promise.all(
  models.map(async (model) => {
    const home = await mkdtemp(join(tmpdir(), "p-"));
    const out: string = await new Promise((res) => {
      const c = spawn(
        new URL("../node_modules/.bin/claude", import.meta.url).pathname,
        ["-p", "--output-format", "json", "--model", model, "--", "hi"],
        {
          cwd: home,
          stdio: ["ignore", "pipe", "pipe"],
          env: {
            ...process.env,
            ANTHROPIC_BASE_URL: stub.url,
            ANTHROPIC_API_KEY: "x",
            HOME: home,
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
            DISABLE_AUTOUPDATER: "1",
          },
        },
      );
      let s = "";
      c.stdout.on("data", (d) => (s += d));
      c.on("close", () => res(s));
    });
    const r = JSON.parse(out) as { total_cost_usd: number; modelUsage: Record<string, unknown> };
    recorded[model] = { chargedModel: Object.keys(r.modelUsage)[0] ?? model, costUsd: r.total_cost_usd };
    console.log(model, r.total_cost_usd, costUsd(model, usage).costUsd);
  }),
);
const { version } = JSON.parse(
  await (await import("node:fs/promises")).readFile(
    new URL("../node_modules/@anthropic-ai/claude-code/package.json", import.meta.url),
    "utf8",
  ),
) as { version: string };
const sorted = Object.fromEntries(Object.entries(recorded).sort(([a], [b]) => a.localeCompare(b)));
await writeFile(
  new URL("../test/fixtures/cli/claude-prices.json", import.meta.url),
  `${JSON.stringify({ claudeCode: version, usagePerKind: 1e6, models: sorted }, null, 2)}\n`,
);
await stub.close();
