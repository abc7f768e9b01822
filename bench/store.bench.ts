/**
 * Latency of the team store against DynamoDB Local on this machine: get, status update and
 * usage ADD percentiles, and the time to page through 1000 runs of a namespace.
 */
import { randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { AgentSpec, AgentTeam } from "../core/manifest/types.ts";
import { createTable, newRunRecord, runItem, TeamStore } from "../core/store/index.ts";
import { localDynamoDbClient, startDynamoDbLocal } from "../test/support/dynamodb-local.ts";
import { type BenchFigure, type Benchmark, percentile } from "./figure.ts";

const SAMPLES = 400;
const WARMUP = 200;
const LIST_SIZE = 1000;

function agent(name: string, role: "lead" | "teammate"): AgentSpec {
  return {
    name,
    role,
    model: role === "lead" ? "opus" : "sonnet",
    prompt: `You are ${name}. Review the authentication module and report findings.`,
    cli: "claude",
    permissionMode: "acceptEdits",
    dependsOn: role === "lead" ? [] : ["lead"],
    skills: [],
    mcpServers: [],
  };
}

/** A typical four-agent coding team (about 2 KB stored). */
function team(name: string, namespace: string): AgentTeam {
  return {
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name, namespace, labels: { app: "bench" }, annotations: {} },
    spec: {
      mode: "coding",
      repository: { url: "https://github.com/example/app.git", branch: "main" },
      auth: { apiKeySecret: "anthropic-key" },
      lead: agent("lead", "lead"),
      teammates: [
        agent("security", "teammate"),
        agent("performance", "teammate"),
        agent("tests", "teammate"),
      ],
      coordination: { taskAssignment: "lead-assigns", peerMessaging: true },
      lifecycle: {
        timeout: "1h",
        timeoutSeconds: 3600,
        budgetLimit: 20,
        onComplete: "create-pr",
        approvalGates: [{ event: "spawn-tests", channel: "api", approvers: [] }],
        maxRestarts: 3,
      },
      observability: {},
    },
  };
}

async function timed(samples: number[], op: () => Promise<unknown>): Promise<void> {
  const start = performance.now();
  await op();
  samples.push(performance.now() - start);
}

const storeBench: Benchmark = async () => {
  const ddb = await startDynamoDbLocal({ install: true });
  const client = localDynamoDbClient(ddb.endpoint);
  try {
    const tableName = `bench-${randomUUID().slice(0, 8)}`;
    await createTable(client, tableName);
    const store = new TeamStore({ client, tableName });
    const ref = { namespace: "default", name: "bench-team" };
    await store.createRun(team(ref.name, ref.namespace));

    // Warm the JVM and the HTTP connection before measuring.
    for (let i = 0; i < WARMUP; i++) {
      await store.getRun(ref);
      await store.addUsage(ref, "lead", { inputTokens: 1 });
    }

    const gets: number[] = [];
    const updates: number[] = [];
    const usage: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      await timed(gets, () => store.getRun(ref));
      await timed(updates, () =>
        store.updateStatus(ref, (s) => {
          s.tasks.total += 1;
          return s;
        }),
      );
      await timed(usage, () =>
        store.addUsage(ref, "security", { inputTokens: 1200, outputTokens: 300, costUsd: 0.0081 }),
      );
    }

    const doc = DynamoDBDocumentClient.from(client);
    const items = Array.from({ length: LIST_SIZE }, (_, i) =>
      runItem(newRunRecord(team(`team-${String(i).padStart(4, "0")}`, "bench"), randomUUID(), new Date())),
    );
    for (let i = 0; i < items.length; i += 25) {
      let requests = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const { UnprocessedItems } = await doc.send(
          new BatchWriteCommand({ RequestItems: { [tableName]: requests } }),
        );
        requests = (UnprocessedItems?.[tableName] ?? []) as typeof requests;
      }
    }
    const listTimes: number[] = [];
    let pages = 0;
    for (let round = 0; round < 3; round++) {
      let listed = 0;
      pages = 0;
      await timed(listTimes, async () => {
        let nextToken: string | undefined;
        do {
          const page = await store.listRuns("bench", { limit: 1000, nextToken });
          listed += page.items.length;
          nextToken = page.nextToken;
          pages++;
        } while (nextToken);
      });
      if (listed !== LIST_SIZE) throw new Error(`Listed ${listed} runs, expected ${LIST_SIZE}.`);
    }

    // Tail latency on a shared machine follows its load; say what it was.
    const load = `load ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`;
    const note = `${SAMPLES} samples after ${WARMUP} warm-up, DynamoDB Local in memory, ${load}`;
    const ms = (name: string, value: number, extra: Partial<BenchFigure> = {}): BenchFigure => ({
      name,
      value: Number(value.toFixed(2)),
      unit: "ms",
      better: "lower",
      note,
      ...extra,
    });
    return [
      ms("store.get.p50", percentile(gets, 50)),
      ms("store.get.p99", percentile(gets, 99), { target: 10 }),
      ms("store.update.p50", percentile(updates, 50), { note: `${note}; get + conditional update` }),
      ms("store.update.p99", percentile(updates, 99), { note: `${note}; get + conditional update` }),
      ms("store.addUsage.p50", percentile(usage, 50)),
      ms("store.addUsage.p99", percentile(usage, 99)),
      ms("store.list1000", percentile(listTimes, 50), {
        note: `median of 3 full listings of ${LIST_SIZE} runs, ${pages} Query pages (1 MB each), ${load}`,
      }),
    ];
  } finally {
    client.destroy();
    await ddb.stop();
  }
};

export default storeBench;
