import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { trackRunnerLeftovers } from "../../local/runner-leftovers.ts";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits for a child's exit event (no timers: the event is the signal). */
const exited = (child: ReturnType<typeof spawn>) =>
  new Promise<void>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve()),
  );

describe("a dead runner's leftovers (issue 14: 12)", () => {
  it("kills the detached CLI group a killed runner left behind and removes its temporary directory", async () => {
    const leftovers = trackRunnerLeftovers();
    const tmp = leftovers.env.TMPDIR as string;
    writeFileSync(join(tmp, "mcp.json"), "{}"); // what writeMcpConfig leaves under TMPDIR
    // A "runner" that starts a "CLI" detached in a group of its own, prints its pid, then is killed -9.
    const runner = spawn(
      process.execPath,
      [
        "-e",
        `const c = require("node:child_process").spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { detached: true, stdio: "ignore" }); c.unref(); console.log(c.pid); setInterval(() => {}, 1000);`,
      ],
      { env: { ...process.env, ...leftovers.env }, stdio: ["ignore", "pipe", "inherit"] },
    );
    const cliPid = await new Promise<number>((resolve) =>
      runner.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    expect(alive(cliPid)).toBe(true);
    runner.kill("SIGKILL");
    await exited(runner);
    expect(alive(cliPid)).toBe(true); // orphaned: killing the runner's group does not reach it

    expect(leftovers.sweep()).toBeGreaterThanOrEqual(1);
    expect(existsSync(tmp)).toBe(false);
    // SIGKILL takes effect when the process next runs, which may be just after kill(2) returns on
    // another core (a CI run read it still sleeping): wait until it is gone or a zombie (init reaps
    // it). A CLI the sweep did not kill stays asleep, and the test fails on its timeout.
    const state = () => {
      try {
        return readFileSync(`/proc/${cliPid}/stat`, "utf8").split(") ")[1]?.charAt(0) ?? "gone";
      } catch {
        return "gone";
      }
    };
    while (!["gone", "Z", "X"].includes(state())) await new Promise((r) => setTimeout(r, 10));
  });
});
