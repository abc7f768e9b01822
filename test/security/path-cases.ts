/**
 * Path confinement cases (issue 14, point 2): every reader of run files that runs with more rights
 * than the agents (outputs upload, the API's tasks/messages/logs readers, the confined open itself)
 * is attacked with a link at every component, `..` and absolute paths. A secret outside the run must
 * never be read. Shared by test/security/path-confinement.test.ts and bench/security.bench.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openConfinedFile, readConfinedText } from "../../core/confined-fs.ts";
import { DirectoryTeamFiles } from "../../core/control/team-files.ts";
import { DirectoryTeamLogs } from "../../core/control/team-logs.ts";
import { LocalDirectoryStore } from "../../core/run-files/object-store.ts";
import type { SuiteFigures } from "./api-suite.ts";

const SECRET = "SECRET-OF-ANOTHER-RUN";

function write(file: string, text: string) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function link(target: string, at: string) {
  mkdirSync(path.dirname(at), { recursive: true });
  symlinkSync(target, at);
}

/** Runs every case in a fresh temporary tree, removed afterwards. */
export async function runPathConfinement(): Promise<SuiteFigures> {
  const root = mkdtempSync(path.join(tmpdir(), "squadron-confine-"));
  const runs = path.join(root, "runs");
  const logs = path.join(root, "logs");
  const figures: SuiteFigures = { tried: 0, refused: 0, defects: [] };
  let n = 0;
  /** A fresh run directory next to a victim run holding the secret in every shape a reader reads. */
  function newRun(): { runId: string; runDir: string; victim: string } {
    n += 1;
    const runId = `run-${n}`;
    const victim = path.join(runs, `victim-${n}`);
    write(path.join(victim, "workspace/output/secret.md"), SECRET);
    write(path.join(victim, "tasks/1.json"), JSON.stringify({ id: "1", subject: SECRET, status: "pending" }));
    write(
      path.join(victim, "team/inboxes/lead.json"),
      JSON.stringify([{ from: "x", text: SECRET, timestamp: "2026-01-01T00:00:00Z", read: false }]),
    );
    write(path.join(root, "tokens.json"), JSON.stringify({ admin: SECRET }));
    const runDir = path.join(runs, runId);
    mkdirSync(runDir, { recursive: true });
    return { runId, runDir, victim };
  }
  function record(label: string, leaked: boolean) {
    figures.tried += 1;
    if (leaked) figures.defects.push(label);
    else figures.refused += 1;
  }
  /** A refusal the reader must throw (matching `pattern`). */
  async function refuses(label: string, attempt: () => Promise<unknown>, pattern: RegExp) {
    figures.tried += 1;
    try {
      await attempt();
      figures.defects.push(`${label}: not refused`);
    } catch (error) {
      if (pattern.test((error as Error).message)) figures.refused += 1;
      else figures.defects.push(`${label}: ${(error as Error).message}`);
    }
  }
  const objects = new LocalDirectoryStore(path.join(root, "objects"));
  async function uploadLeaks(label: string, runDir: string, outputDir: string) {
    const to = { prefix: `outputs/${label.replace(/\W+/g, "-")}/` };
    const keys = await objects.upload(outputDir, to, { root: runDir }).catch(() => []);
    const texts = await Promise.all(
      keys.map((k) => readConfinedText(path.join(root, "objects"), k).catch(() => undefined)),
    );
    return texts.some((t) => t?.includes(SECRET));
  }

  try {
    // outputs
    {
      const cases: Array<[string, (r: ReturnType<typeof newRun>) => string]> = [
        [
          "output dir is a link to another run",
          (r) => {
            link(path.join(r.victim, "workspace/output"), path.join(r.runDir, "workspace/output"));
            return path.join(r.runDir, "workspace/output");
          },
        ],
        [
          "output dir is ../..",
          (r) => {
            link("../..", path.join(r.runDir, "workspace/output"));
            return path.join(r.runDir, "workspace/output");
          },
        ],
        [
          "workspace is a link",
          (r) => {
            link(path.join(r.victim, "workspace"), path.join(r.runDir, "workspace"));
            return path.join(r.runDir, "workspace/output");
          },
        ],
        [
          "subdirectory is a link",
          (r) => {
            write(path.join(r.runDir, "workspace/output/mine.md"), "mine");
            link(path.join(r.victim, "workspace/output"), path.join(r.runDir, "workspace/output/sub"));
            return path.join(r.runDir, "workspace/output");
          },
        ],
        [
          "file is a link (absolute)",
          (r) => {
            link(
              path.join(r.victim, "workspace/output/secret.md"),
              path.join(r.runDir, "workspace/output/a.md"),
            );
            return path.join(r.runDir, "workspace/output");
          },
        ],
        [
          "file is a link (relative ..)",
          (r) => {
            link(
              `../../../victim-${n}/workspace/output/secret.md`,
              path.join(r.runDir, "workspace/output/b.md"),
            );
            return path.join(r.runDir, "workspace/output");
          },
        ],
        [
          "file is a link to the stack's tokens",
          (r) => {
            link(path.join(root, "tokens.json"), path.join(r.runDir, "workspace/output/t.json"));
            return path.join(r.runDir, "workspace/output");
          },
        ],
        ["output dir given as ../ path", (r) => path.join(r.runDir, "..", `victim-${n}`, "workspace/output")],
        ["output dir given as an absolute path elsewhere", (r) => path.join(r.victim, "workspace/output")],
      ];
      for (const [label, arrange] of cases) {
        const r = newRun();
        const dir = arrange(r);
        const leaked = await uploadLeaks(label, r.runDir, dir);
        record(`outputs: ${label}`, leaked);
      }
    }
    // team files
    {
      const files = new DirectoryTeamFiles(runs);
      const cases: Array<[string, (r: ReturnType<typeof newRun>) => void]> = [
        ["tasks dir is a link", (r) => link(path.join(r.victim, "tasks"), path.join(r.runDir, "tasks"))],
        [
          "task file is a link",
          (r) => link(path.join(r.victim, "tasks/1.json"), path.join(r.runDir, "tasks/1.json")),
        ],
        ["team dir is a link", (r) => link(path.join(r.victim, "team"), path.join(r.runDir, "team"))],
        [
          "inboxes dir is a link",
          (r) => link(path.join(r.victim, "team/inboxes"), path.join(r.runDir, "team/inboxes")),
        ],
        [
          "inbox file is a link",
          (r) =>
            link(
              path.join(r.victim, "team/inboxes/lead.json"),
              path.join(r.runDir, "team/inboxes/lead.json"),
            ),
        ],
        [
          "inbox file links to the tokens",
          (r) => link(path.join(root, "tokens.json"), path.join(r.runDir, "team/inboxes/lead.json")),
        ],
      ];
      for (const [label, arrange] of cases) {
        const r = newRun();
        arrange(r);
        const seen = JSON.stringify([
          await files.tasks(r.runId),
          await files.messages(r.runId),
          await files.messages(r.runId, "lead"),
        ]);
        const leaked = seen.includes(SECRET);
        record(`team files: ${label}`, leaked);
      }
      for (const runId of ["..", "../victim-1", "/etc", "run-1/../victim-1"]) {
        await refuses(`team files: run id ${runId}`, () => files.tasks(runId), /invalid run id/);
      }
    }
    // logs
    {
      const reader = new DirectoryTeamLogs(logs);
      const cases: Array<[string, (runId: string) => void]> = [
        [
          "log file links to the tokens",
          (id) => link(path.join(root, "tokens.json"), path.join(logs, id, "lead.log")),
        ],
        [
          "log file links to another run",
          (id) =>
            link(path.join(runs, "victim-1/workspace/output/secret.md"), path.join(logs, id, "lead.log")),
        ],
        [
          "log directory is a link",
          (id) => link(path.join(runs, "victim-1/workspace/output"), path.join(logs, id)),
        ],
      ];
      let i = 0;
      for (const [label, arrange] of cases) {
        i += 1;
        const runId = `logrun-${i}`;
        arrange(runId);
        const page = await reader
          .read({ runId, agents: ["lead", "secret"], notBefore: new Date(0), limit: 100 })
          .catch(() => ({ items: [] }));
        const leaked = JSON.stringify(page).includes(SECRET);
        record(`logs: ${label}`, leaked);
      }
    }
    // confined open
    {
      const r = newRun();
      write(path.join(r.runDir, "ok.txt"), "fine");
      // (An honest file inside the run is read: the refusals below are not a reader that reads nothing.)
      if ((await readConfinedText(r.runDir, "ok.txt")) !== "fine")
        figures.defects.push("confined open: ok.txt not read");
      for (const file of [
        "../victim-1/workspace/output/secret.md",
        path.join(r.victim, "workspace/output/secret.md"),
        "/etc/passwd",
      ]) {
        await refuses(`confined open: ${file}`, () => openConfinedFile(r.runDir, file), /outside/);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return figures;
}
