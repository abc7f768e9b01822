/**
 * The team as a graph: the lead on top, teammates below it in layers by dependency depth, an
 * arrow from each dependency to its dependant. A kagents v0.8 pipeline lays its teammates out by
 * stage instead: one band per stage, upstream first, labelled with the stage's phase and gate.
 * Layout is pure (testable); render builds SVG.
 */
import { s } from "./dom.js";
import { phaseLabel, tone, usd } from "./format.js";

export const NODE = { width: 232, height: 98, gapX: 36, gapY: 60, pad: 24 };

/** Room above a stage's row for its label. */
const BAND_LABEL = 26;

/**
 * agents: [{ name, role, dependsOn }] (lead first or marked by role); stages: the pipeline's
 * stages as status.pipeline lists them (upstream first), or none →
 * { nodes: [{ name, layer, x, y }], edges: [{ from, to, kind: "depends" | "leads" }],
 *   bands: [{ stage, layer, y, height }], width, height }
 */
export function layoutGraph(agents, stages = []) {
  const byName = new Map(agents.map((a) => [a.name, a]));
  const lead = agents.find((a) => a.role === "lead") ?? agents[0];
  const depth = new Map();
  if (stages.length > 0) {
    // Stage k is row k + 1 (the lead is row 0); a teammate in no stage goes in a last row of its own.
    if (lead) depth.set(lead.name, 0);
    stages.forEach((stage, k) => {
      for (const name of stage.teammates) if (byName.has(name)) depth.set(name, k + 1);
    });
    for (const a of agents) if (!depth.has(a.name)) depth.set(a.name, stages.length + 1);
  }
  const visiting = new Set();
  const depthOf = (name) => {
    if (depth.has(name)) return depth.get(name);
    const agent = byName.get(name);
    if (!agent) return 0;
    if (agent === lead) return depth.set(name, 0).get(name);
    if (visiting.has(name)) return 1; // a cycle cannot pass validation; never loop on one anyway
    visiting.add(name);
    const deps = (agent.dependsOn ?? []).filter((d) => byName.has(d));
    const d = 1 + Math.max(0, ...deps.map(depthOf));
    visiting.delete(name);
    depth.set(name, d);
    return d;
  };
  for (const a of agents) depthOf(a.name);

  const layers = [];
  if (stages.length > 0) for (let k = 0; k <= stages.length; k++) layers[k] = layers[k] ?? [];
  for (const a of agents) {
    const d = depth.get(a.name);
    if (!layers[d]) layers[d] = [];
    layers[d].push(a.name);
  }
  // Each dependant sits under the mean position of what it depends on (so arrows stay short and
  // rarely cross a node); a layer is then pushed apart where nodes would overlap.
  const step = NODE.width + NODE.gapX;
  const x = new Map();
  layers.forEach((names, i) => {
    if (!names) return;
    const wanted = (name, k) => {
      const deps = (byName.get(name).dependsOn ?? []).filter((d) => x.has(d));
      if (i === 0 || deps.length === 0) return (k - (names.length - 1) / 2) * step;
      return deps.reduce((sum, d) => sum + x.get(d), 0) / deps.length;
    };
    const placed = names.map((name, k) => ({ name, want: wanted(name, k), k }));
    placed.sort((a, b) => a.want - b.want || a.k - b.k);
    let prev = Number.NEGATIVE_INFINITY;
    for (const p of placed) {
      p.at = Math.max(p.want, prev + step);
      prev = p.at;
    }
    // Pushing right only would drift the layer: recentre it on what it wanted.
    const drift = placed.reduce((sum, p) => sum + (p.at - p.want), 0) / placed.length;
    for (const p of placed) x.set(p.name, p.at - drift);
  });

  const xs = x.size > 0 ? [...x.values()] : [0];
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs);
  const width = NODE.pad * 2 + (maxX - minX) + NODE.width;
  const rows = layers.length;
  const height = NODE.pad * 2 + rows * NODE.height + Math.max(0, rows - 1) * NODE.gapY;
  const rowY = (layer) => NODE.pad + layer * (NODE.height + NODE.gapY);
  const nodes = agents.map((a) => {
    const layer = depth.get(a.name);
    return { name: a.name, layer, x: NODE.pad + x.get(a.name) - minX, y: rowY(layer) };
  });
  const bands = stages.map((stage, k) => ({
    stage,
    layer: k + 1,
    y: rowY(k + 1) - BAND_LABEL,
    height: NODE.height + BAND_LABEL + 8,
  }));

  const edges = [];
  for (const a of agents) {
    if (a === lead) continue;
    const deps = (a.dependsOn ?? []).filter((d) => byName.has(d));
    for (const d of deps) edges.push({ from: d, to: a.name, kind: "depends" });
    // The lead coordinates every teammate; draw that only where no dependency arrow arrives.
    if (deps.length === 0 && lead) edges.push({ from: lead.name, to: a.name, kind: "leads" });
  }
  return { nodes, edges, bands, width, height };
}

/** Where the k-th of n edges leaves or enters a node side, so they do not meet in one point. */
function port(node, k, n) {
  const spread = Math.min(28, (NODE.width - 40) / Math.max(1, n - 1));
  return node.x + NODE.width / 2 + (k - (n - 1) / 2) * spread;
}

function edgePath(from, to, out, into) {
  const x1 = port(from, out.k, out.n);
  const y1 = from.y + NODE.height;
  const x2 = port(to, into.k, into.n);
  const y2 = to.y - 3;
  if (to.layer <= from.layer) {
    // Same or upper layer (unusual): route around the side.
    const side = Math.max(from.x, to.x) + NODE.width + 14;
    return `M${from.x + NODE.width} ${from.y + NODE.height / 2} C${side} ${from.y + NODE.height / 2} ${side} ${to.y - 20} ${x2} ${y2}`;
  }
  const mid = (y1 + y2) / 2;
  return `M${x1} ${y1} C${x1} ${mid} ${x2} ${mid} ${x2} ${y2}`;
}

function truncate(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function describe(agent) {
  const parts = [
    `${agent.name}, ${agent.role}`,
    `CLI ${agent.cli}${agent.model ? `, model ${agent.model}` : ""}`,
    `phase ${phaseLabel(agent.phase)}`,
    `cost ${usd(agent.costUsd)}`,
  ];
  if (agent.simulated) parts.push("simulated agent");
  if (agent.pendingApproval) parts.push(`approval gate ${agent.pendingApproval}`);
  if (agent.dependsOn?.length) parts.push(`depends on ${agent.dependsOn.join(", ")}`);
  if (agent.restarts) parts.push(`${agent.restarts} restarts`);
  return parts.join("; ");
}

function nodeView(agent, at, gates) {
  const t = tone(agent.phase);
  // Once decided, the gate no longer waits even if the agent has not moved on yet.
  const pending =
    Boolean(agent.pendingApproval) && (gates?.[agent.pendingApproval]?.state ?? "Pending") === "Pending";
  const g = s("g", {
    class: `node tone-${t}${pending ? " awaiting" : ""}${agent.role === "lead" ? " lead" : ""}`,
    transform: `translate(${at.x} ${at.y})`,
    role: "listitem",
    tabindex: "0",
    "aria-label": describe(agent),
    "data-agent": agent.name,
    "data-phase": agent.phase,
  });
  g.append(
    s("title", null, describe(agent)),
    s("rect", { class: "node-box", width: NODE.width, height: NODE.height, rx: 6 }),
    s("rect", { class: "node-stripe", width: 5, height: NODE.height, rx: 2 }),
    s("text", { class: "node-name", x: 16, y: 26 }, truncate(agent.name, 20)),
    s(
      "text",
      { class: "node-meta", x: 16, y: 46 },
      truncate(
        `${agent.role === "lead" ? "Lead · " : ""}${agent.cli}${agent.model ? ` · ${agent.model}` : ""}`,
        30,
      ),
    ),
    s("circle", { class: "node-dot", cx: 20, cy: 65, r: 4.5 }),
    s("text", { class: "node-phase", x: 30, y: 69.5 }, truncate(phaseLabel(agent.phase), 24)),
    s("text", { class: "node-cost", x: NODE.width - 12, y: 26, "text-anchor": "end" }, usd(agent.costUsd)),
  );
  if (agent.simulated) {
    g.append(
      s("rect", { class: "badge-sim", x: NODE.width - 82, y: 34, width: 72, height: 17, rx: 3 }),
      s(
        "text",
        { class: "badge-text sim", x: NODE.width - 46, y: 46.5, "text-anchor": "middle" },
        "SIMULATED",
      ),
    );
  }
  if (pending) {
    g.append(s("text", { class: "node-gate", x: 16, y: 88 }, truncate(`Gate: ${agent.pendingApproval}`, 32)));
  }
  return g;
}

/** "Stage review · Pending approval · gate stage-review Pending", for a band's label. */
export function stageLabel(stage) {
  const parts = [`Stage ${stage.name}`, phaseLabel(stage.phase), `${stage.ready} ready`];
  if (stage.fan === "merge") parts.push("merge");
  if (stage.gate) parts.push(`gate ${stage.gate} ${stage.gateState ?? "Pending"}`);
  return parts.join(" · ");
}

function bandView(band, width, current) {
  const { stage } = band;
  const g = s("g", {
    class: `stage-band tone-${tone(stage.phase)}${stage.name === current ? " current" : ""}`,
    "data-stage": stage.name,
    "data-phase": stage.phase,
    "aria-label": stageLabel(stage),
  });
  g.append(
    s("title", null, stageLabel(stage)),
    s("rect", { class: "stage-band-box", x: 4, y: band.y, width: width - 8, height: band.height, rx: 8 }),
    s(
      "text",
      { class: "stage-band-label", x: 14, y: band.y + 17 },
      truncate(stageLabel(stage), Math.max(20, Math.floor((width - 32) / 6.5))),
    ),
  );
  return g;
}

/** The whole graph as one inline <svg>, sized to its content. */
export function renderGraph(team) {
  const agents = [team.lead, ...team.teammates].filter(Boolean);
  const stages = team.pipeline?.stages ?? [];
  const layout = layoutGraph(agents, stages);
  const at = new Map(layout.nodes.map((n) => [n.name, n]));
  const svg = s("svg", {
    class: "graph",
    viewBox: `0 0 ${layout.width} ${layout.height}`,
    width: layout.width,
    height: layout.height,
    role: "group",
    "aria-label": `Agents of ${team.name}: ${agents.length} agents, ${layout.edges.filter((e) => e.kind === "depends").length} dependencies`,
  });
  svg.append(
    s(
      "defs",
      null,
      s(
        "marker",
        {
          id: "arrow",
          viewBox: "0 0 10 10",
          refX: 9,
          refY: 5,
          markerWidth: 8,
          markerHeight: 8,
          orient: "auto-start-reverse",
        },
        s("path", { d: "M0 0 L10 5 L0 10 z", class: "arrow-head" }),
      ),
    ),
  );
  const edges = s("g", { class: "edges", "aria-hidden": "true" });
  const ports = (key, other) => {
    const groups = new Map();
    for (const e of layout.edges) {
      if (!groups.has(e[key])) groups.set(e[key], []);
      groups.get(e[key]).push(e);
    }
    const index = new Map();
    for (const list of groups.values()) {
      list.sort((a, b) => at.get(a[other]).x - at.get(b[other]).x);
      list.forEach((e, k) => {
        index.set(e, { k, n: list.length });
      });
    }
    return index;
  };
  const outPorts = ports("from", "to");
  const inPorts = ports("to", "from");
  for (const e of layout.edges) {
    const from = at.get(e.from);
    const to = at.get(e.to);
    if (!from || !to) continue;
    edges.append(
      s("path", {
        class: `edge edge-${e.kind}`,
        d: edgePath(from, to, outPorts.get(e), inPorts.get(e)),
        "data-from": e.from,
        "data-to": e.to,
        "marker-end": e.kind === "depends" ? "url(#arrow)" : undefined,
      }),
    );
  }
  const bands = s("g", { class: "stage-bands", role: "list", "aria-label": "Pipeline stages" });
  for (const band of layout.bands) bands.append(bandView(band, layout.width, team.pipeline?.currentStage));
  const nodes = s("g", { class: "nodes", role: "list" });
  for (const agent of agents) nodes.append(nodeView(agent, at.get(agent.name), team.gates));
  svg.append(bands, edges, nodes);
  return svg;
}
