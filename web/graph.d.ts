/** Types of graph.js for the tests that import its pure layout (the browser loads graph.js itself). */
export interface GraphAgent {
  name: string;
  role: "lead" | "teammate";
  dependsOn?: string[];
}
export interface GraphStage {
  name: string;
  phase: string;
  teammates: string[];
  ready: string;
  fan?: string;
  gate: string | null;
  gateState: string | null;
}
export interface GraphLayout {
  nodes: Array<{ name: string; layer: number; x: number; y: number }>;
  edges: Array<{ from: string; to: string; kind: "depends" | "leads" }>;
  bands: Array<{ stage: GraphStage; layer: number; y: number; height: number }>;
  width: number;
  height: number;
}
export const NODE: { width: number; height: number; gapX: number; gapY: number; pad: number };
export function layoutGraph(agents: GraphAgent[], stages?: GraphStage[]): GraphLayout;
export function stageLabel(stage: GraphStage): string;
/** An SVG element; typed loosely, the tests run without the DOM library. */
export function renderGraph(team: unknown): unknown;
