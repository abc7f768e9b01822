import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { FileRunLogs } from "../../local/log-reader.ts";

it("reads a run's runner logs in time order and then only what was appended", async () => {
  const logs = mkdtempSync(join(tmpdir(), "squadron-logs-"));
  mkdirSync(join(logs, "run-1"));
  const line = (t: string, message: string) =>
    `${JSON.stringify({ level: "INFO", message, timestamp: t })}\n`;
  writeFileSync(
    join(logs, "run-1", "lead.log"),
    line("2026-01-01T00:00:02Z", "lead b") + line("2026-01-01T00:00:00Z", "lead a"),
  );
  writeFileSync(join(logs, "run-1", "greeter.log"), `${line("2026-01-01T00:00:01Z", "greeter")}{"partial`);
  const reader = new FileRunLogs(logs);
  const first = await reader.read("run-1");
  expect(first.items.map((i) => `${i.agent}:${JSON.parse(i.line).message}`)).toEqual([
    "lead:lead a",
    "greeter:greeter",
    "lead:lead b",
  ]);
  appendFileSync(join(logs, "run-1", "greeter.log"), `":1,"timestamp":"2026-01-01T00:00:03Z"}\n`);
  const next = await reader.read("run-1", { nextToken: first.nextToken });
  expect(next.items).toHaveLength(1);
  expect(next.items[0]?.agent).toBe("greeter");
  expect((await reader.read("run-1", { agent: "lead", since: "2026-01-01T00:00:01Z" })).items).toHaveLength(
    1,
  );
  await expect(reader.read("../etc")).rejects.toThrow(/invalid run id/);
  rmSync(logs, { recursive: true, force: true });
});
