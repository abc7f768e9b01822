/**
 * The web view's graph layout (web/graph.js, pure): a kagents v0.8 pipeline is drawn as one band
 * per stage, upstream first, each stage's teammates in its band whatever their dependency depth.
 * The browser test (web-view.test.ts) renders the same layout.
 */
import { describe, expect, it } from "vitest";
import { type GraphStage, layoutGraph, NODE, stageLabel } from "../../web/graph.js";

const agents = [
  { name: "lead", role: "lead" as const },
  { name: "plan", role: "teammate" as const },
  { name: "api", role: "teammate" as const, dependsOn: ["plan"] },
  { name: "web", role: "teammate" as const, dependsOn: ["plan"] },
  // qa also consumes an artifact of api: a deeper dependency than its stage's position.
  { name: "qa", role: "teammate" as const, dependsOn: ["plan", "api", "web"] },
  { name: "send", role: "teammate" as const, dependsOn: ["plan", "api", "web", "qa"] },
  { name: "notes", role: "teammate" as const },
];

const stage = (name: string, teammates: string[], extra: Partial<GraphStage> = {}): GraphStage => ({
  name,
  phase: "Pending",
  teammates,
  ready: `0/${teammates.length}`,
  fan: "parallel",
  gate: null,
  gateState: null,
  ...extra,
});

describe("the web view's graph of a pipeline", () => {
  const stages = [
    stage("plan", ["plan"], { phase: "Succeeded", ready: "1/1" }),
    stage("build", ["api", "web", "qa"], { phase: "Running", ready: "2/3" }),
    stage("outreach", ["send"], {
      phase: "PendingApproval",
      gate: "stage-outreach",
      gateState: "Pending",
    }),
  ];
  const layout = layoutGraph(agents, stages);
  const layer = (name: string) => layout.nodes.find((n) => n.name === name)?.layer;

  it("puts each stage's teammates in one band, stages in the order status.pipeline lists them", () => {
    expect(layer("lead")).toBe(0);
    expect(layer("plan")).toBe(1);
    expect([layer("api"), layer("web"), layer("qa")]).toEqual([2, 2, 2]);
    expect(layer("send")).toBe(3);
    expect(layout.bands.map((b) => [b.stage.name, b.layer])).toEqual([
      ["plan", 1],
      ["build", 2],
      ["outreach", 3],
    ]);
  });

  it("a teammate in no stage gets a row of its own below the stages", () => {
    expect(layer("notes")).toBe(4);
  });

  it("each band encloses its teammates' boxes, with room for its label above them", () => {
    for (const band of layout.bands) {
      for (const name of band.stage.teammates) {
        const node = layout.nodes.find((n) => n.name === name);
        expect(node?.y).toBeGreaterThan(band.y);
        expect((node?.y ?? 0) + NODE.height).toBeLessThan(band.y + band.height);
      }
    }
    const [first, second] = layout.bands;
    expect((first?.y ?? 0) + (first?.height ?? 0)).toBeLessThan(second?.y ?? 0);
  });

  it("labels a band with the stage's phase, ready count and gate", () => {
    expect(stageLabel(stages[2] as GraphStage)).toBe(
      "Stage outreach · Pending approval · 0/1 ready · gate stage-outreach Pending",
    );
    expect(stageLabel(stage("merge-all", ["x"], { fan: "merge" }))).toBe(
      "Stage merge-all · Pending · 0/1 ready · merge",
    );
  });

  it("without a pipeline, teammates are layered by dependency depth and there are no bands", () => {
    const plain = layoutGraph(agents);
    expect(plain.bands).toEqual([]);
    expect(plain.nodes.find((n) => n.name === "qa")?.layer).toBe(3);
    expect(plain.nodes.find((n) => n.name === "send")?.layer).toBe(4);
  });
});
