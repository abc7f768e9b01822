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

describe("the team view's cost", () => {
  it("is shown to the micro-dollar, without binary float noise", () => {
    expect(0.1 + 0.2).toBe(0.30000000000000004);
    expect(roundUsd(0.1 + 0.2)).toBe(0.3);
    const view = teamView(
      record((r) => {
        r.status.totalCostUsd = 0.1 + 0.2;
        const lead = r.status.agents.lead;
        if (lead) lead.costUsd = 0.7 + 0.1;
      }),
      [],
    );
    expect(view.cost.usd).toBe(0.3);
    expect(view.lead.costUsd).toBe(0.8);
  });

  it("says when scripted stand-ins produced it, and describe says it is not spending", () => {
    const real = teamView(
      record(() => {}),
      [],
    );
    expect(real.cost.simulated).toBe(false);
    const simulated = teamView(
      record((r) => {
        const lead = r.status.agents.lead;
        if (lead) lead.simulated = true;
      }),
      [],
    );
    expect(simulated.cost.simulated).toBe(true);
    const text = describeTeam({ team: simulated as never, events: [], tasks: [] });
    expect(text).toMatch(
      /^Cost: +\$0\.00 \(simulated agents: priced usage of scripted stand-ins, not spending\)$/m,
    );
  });
});
