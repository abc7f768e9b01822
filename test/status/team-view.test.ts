import { describe, expect, it } from "vitest";
import { describeTeam } from "../../cli/output/describe.ts";
import { roundUsd, teamView } from "../../core/control/team-runs.ts";
import { initialStatus } from "../../core/status/status.ts";
import type { TeamRunRecord } from "../../core/store/items.ts";
import { sampleTeam } from "./sample-team.ts";

function record(mutate: (r: TeamRunRecord) => void): TeamRunRecord {
  const team = sampleTeam();
  const r: TeamRunRecord = {
    namespace: "default",
    name: team.metadata.name,
    runId: "auth-refactor-0001",
    team,
    status: initialStatus(team),
    version: 1,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    tokens: { gates: {}, waits: {} },
  };
  mutate(r);
  return r;
}

/** The view of the sample team's run, changed by `mutate`. */
const viewOf = (mutate: (r: TeamRunRecord) => void) => teamView(record(mutate), []);

/** The view of the sample team's run as created: nothing delivered, staged or piped yet. */
const plainView = () => viewOf(() => {});

/** `describe team` of a view. */
const describeView = (view: unknown) => describeTeam({ team: view as never, events: [], tasks: [] });

describe("the team view's cost", () => {
  it("is shown to the micro-dollar, without binary float noise", () => {
    expect(0.1 + 0.2).toBe(0.30000000000000004);
    expect(roundUsd(0.1 + 0.2)).toBe(0.3);
    const view = viewOf((r) => {
      r.status.totalCostUsd = 0.1 + 0.2;
      const lead = r.status.agents.lead;
      if (lead) lead.costUsd = 0.7 + 0.1;
    });
    expect(view.cost.usd).toBe(0.3);
    expect(view.lead.costUsd).toBe(0.8);
  });

  it("says when scripted stand-ins produced it, and describe says it is not spending", () => {
    const real = plainView();
    expect(real.cost.simulated).toBe(false);
    const simulated = viewOf((r) => {
      const lead = r.status.agents.lead;
      if (lead) lead.simulated = true;
    });
    expect(simulated.cost.simulated).toBe(true);
    const text = describeView(simulated);
    expect(text).toMatch(
      /^Cost: +\$0\.00 \(simulated agents: priced usage of scripted stand-ins, not spending\)$/m,
    );
  });
});

describe("the team view's delivery (onComplete: deliver)", () => {
  it("is null until delivered, then listed in GET team and in describe", () => {
    expect(plainView().delivery).toBeNull();
    expect(describeView(plainView())).not.toMatch(/^Delivery:/m);
    const delivered = viewOf((r) => {
      r.status.delivery = [
        {
          type: "webhook",
          target: "https://ops.example.com/hooks/done",
          phase: "Delivered",
          httpStatus: 204,
          attempts: 1,
          signed: true,
          deliveredAt: "2026-01-01T00:00:00.000Z",
        },
        {
          type: "slack",
          target: "slack #digest",
          phase: "Failed",
          httpStatus: 500,
          error: "HTTP 500 after 3 attempt(s)",
          attempts: 3,
          deliveredAt: "2026-01-01T00:00:00.000Z",
        },
      ];
    });
    expect(delivered.delivery).toHaveLength(2);
    const text = describeTeam({
      team: delivered as never,
      events: [],
      tasks: [],
      now: new Date("2026-01-01T00:05:00.000Z"),
    });
    expect(text).toMatch(/^Delivery:\n {2}TYPE +TARGET +PHASE +HTTP +DELIVERED +ERROR$/m);
    expect(text).toMatch(
      /^ {2}webhook +https:\/\/ops\.example\.com\/hooks\/done +Delivered +204 +5m ago +<none>$/m,
    );
    expect(text).toMatch(/^ {2}slack +slack #digest +Failed +500 +5m ago +HTTP 500 after 3 attempt\(s\)$/m);
  });
});

describe("the team view's artifacts (kagents v0.8 status.artifacts)", () => {
  it("are listed by GET team and in squadron describe, with producer, size and deliveries", () => {
    const view = viewOf((r) => {
      r.status.artifacts = [
        {
          name: "findings.md",
          path: "/workspace/output/findings.md",
          producedBy: "researcher",
          producedAt: "2026-01-01T00:01:00.000Z",
          size: 32,
          deliveredTo: [
            {
              consumer: "writer",
              mountPath: "/workspace/stage/research",
              size: 32,
              deliveredAt: "2026-01-01T00:02:00.000Z",
            },
          ],
        },
      ];
    });
    expect(view.artifacts).toHaveLength(1);
    expect(plainView().artifacts).toEqual([]);
    const text = describeView(view);
    expect(text).toMatch(
      /^Artifacts:\n +ARTIFACT +PRODUCED BY +PATH +SIZE +DELIVERED TO\n +findings\.md +researcher +\/workspace\/output\/findings\.md +32 B +writer:\/workspace\/stage\/research$/m,
    );
    expect(describeView(plainView())).not.toMatch(/Artifacts:/);
  });
});

describe("the team view's pipeline (kagents v0.8 status.pipeline)", () => {
  it("is in GET team and in squadron describe: current stage, each stage's phase, ready, gate and times", () => {
    const view = viewOf((r) => {
      r.team.spec.teammates[1]!.dependsOn = [];
      r.team.spec.pipeline = {
        stages: [
          {
            name: "build",
            teammates: ["backend"],
            dependsOn: [],
            fan: "parallel",
            approvalRequired: false,
          },
          {
            name: "verify",
            teammates: ["tests"],
            dependsOn: ["build"],
            fan: "merge",
            approvalRequired: true,
          },
        ],
      };
      r.status.agents.backend = {
        ...r.status.agents.backend!,
        phase: "Succeeded",
        startedAt: "2026-01-01T00:01:00.000Z",
        finishedAt: "2026-01-01T00:02:00.000Z",
      };
      r.status.agents.tests = { ...r.status.agents.tests!, phase: "PendingApproval" };
      r.status.gates["stage-verify"] = { state: "Pending" } as never;
    });
    expect(view.pipeline).toMatchObject({
      currentStage: "verify",
      stages: [
        { name: "build", phase: "Succeeded", ready: "1/1", startedAt: "2026-01-01T00:01:00.000Z" },
        {
          name: "verify",
          phase: "PendingApproval",
          ready: "0/1",
          gate: "stage-verify",
          gateState: "Pending",
        },
      ],
    });
    const text = describeView(view);
    expect(text).toMatch(
      /^Pipeline: +current stage verify\n +STAGE +PHASE +READY +TEAMMATES +AFTER +GATE +STARTED +COMPLETED\n +build +Succeeded +1\/1 +backend +<none> +<none> +\S+ ago +\S+ ago\n +verify +PendingApproval +0\/1 +tests +build +stage-verify \(Pending\) +<none> +<none>$/m,
    );
    const plain = plainView();
    expect(plain.pipeline).toBeNull();
    expect(describeView(plain)).not.toMatch(/^Pipeline:/m);
  });
});
