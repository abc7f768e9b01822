import { workspaceRelativePath } from "./artifacts.ts";
import { findCycles } from "./graph.ts";
import { error, type IssuePath, type PathIssue } from "./issues.ts";

/**
 * Cross-field rules of kagents v0.8 artifact routing (`teammates[].outputs[]`, `inputs[]`): an
 * input names an existing teammate other than itself, an artifact that teammate declares (the
 * basename of one of its output paths, kagents' rule), and a mount path that leaves the
 * workspace's root and output directory writable. `from` is an implicit dependency, so cycles are
 * looked for in dependsOn, pipeline stages and inputs together. Reads raw input defensively, as
 * rules.ts does.
 */

type Raw = Record<string, unknown>;
const isObject = (value: unknown): value is Raw =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const asObject = (value: unknown): Raw => (isObject(value) ? value : {});

const basename = (relative: string) => relative.split("/").at(-1) ?? "";

export function checkArtifacts(
  spec: Raw,
  teammateIndex: ReadonlyMap<string, number>,
  leadName: string | undefined,
  dependsOnEdges: ReadonlyMap<string, readonly string[]>,
  knownTeammates: string,
  issues: PathIssue[],
): void {
  const teammates = asArray(spec.teammates);
  // Declared artifacts per producer: basename → output index. Two outputs with one basename could
  // not be told apart by an input (kagents matches on the basename).
  const artifacts = new Map<string, Map<string, number>>();
  teammates.forEach((teammate, i) => {
    const t = asObject(teammate);
    if (typeof t.name !== "string" || teammateIndex.get(t.name) !== i) return;
    const names = new Map<string, number>();
    asArray(t.outputs).forEach((output, j) => {
      const path = asObject(output).path;
      const relative = typeof path === "string" ? workspaceRelativePath(path) : undefined;
      if (!relative) return; // the schema reports it
      const name = basename(relative);
      const earlier = names.get(name);
      if (earlier !== undefined) {
        issues.push(
          error(
            ["spec", "teammates", i, "outputs", j, "path"],
            `outputs[${earlier}] already declares an artifact named "${name}"; inputs name artifacts by basename, so each output of a teammate needs its own.`,
          ),
        );
      } else names.set(name, j);
    });
    artifacts.set(t.name, names);
  });

  // A coding team has no output directory; a template may become either, so it is checked too.
  const declaredOutput = asObject(asObject(spec.workspace).output).mountPath;
  const outputMount =
    spec.repository !== undefined && spec.repository !== null
      ? undefined
      : workspaceRelativePath(typeof declaredOutput === "string" ? declaredOutput : "/workspace/output");
  const staged = new Map<string, { from: string; artifact: string; at: string }>();
  const fromEdges = new Map<string, string[]>();
  teammates.forEach((teammate, i) => {
    const t = asObject(teammate);
    const valid: string[] = [];
    asArray(t.inputs).forEach((rawInput, j) => {
      const input = asObject(rawInput);
      const base: IssuePath = ["spec", "teammates", i, "inputs", j];
      const { from, artifact, mountPath } = input;
      let known = false;
      if (typeof from === "string") {
        if (from === t.name) {
          issues.push(error([...base, "from"], "A teammate cannot consume its own artifact."));
        } else if (from === leadName || (leadName === undefined && from === "lead")) {
          issues.push(
            error(
              [...base, "from"],
              "The lead declares no outputs (only teammates do, kagents v0.8); name the teammate that produces the artifact.",
            ),
          );
        } else if (!teammateIndex.has(from)) {
          issues.push(error([...base, "from"], `"${from}" names no teammate of this team${knownTeammates}.`));
        } else {
          known = true;
          if (!valid.includes(from)) valid.push(from);
        }
      }
      // (An artifact that is not a basename is the schema's to report.)
      if (known && typeof artifact === "string" && !artifact.includes("/")) {
        const declared = artifacts.get(from as string);
        if (declared && !declared.has(artifact)) {
          const list = [...declared.keys()];
          issues.push(
            error(
              [...base, "artifact"],
              list.length === 0
                ? `"${from}" declares no outputs; add "${artifact}" to its outputs[] (e.g. path: /workspace/output/${artifact}).`
                : `"${from}" declares no output named "${artifact}" (its artifacts: ${list.join(", ")}); an artifact is the basename of an output path.`,
            ),
          );
        }
      }
      if (typeof mountPath !== "string") return;
      const relative = workspaceRelativePath(mountPath);
      if (!relative) return; // the schema reports it
      if (outputMount !== undefined && (outputMount === relative || outputMount.startsWith(`${relative}/`))) {
        issues.push(
          error(
            [...base, "mountPath"],
            `${mountPath} is (or holds) the workspace's output directory (${spec.workspace ? "" : "default "}/workspace/${outputMount}); staged artifacts are read-only, so stage them elsewhere, e.g. /workspace/stage/${typeof from === "string" ? from : "producer"}.`,
          ),
        );
        return;
      }
      if (!known || typeof artifact !== "string") return;
      const target = `${relative}/${artifact}`;
      const earlier = staged.get(target);
      const at = `spec.teammates[${i}].inputs[${j}]`;
      if (earlier && (earlier.from !== from || earlier.artifact !== artifact)) {
        issues.push(
          error(
            [...base, "mountPath"],
            `${earlier.at} already stages ${earlier.from}'s "${earlier.artifact}" at /workspace/${target}; the workspace is shared, so give this input another mountPath.`,
          ),
        );
      } else if (!earlier) staged.set(target, { from: from as string, artifact, at });
    });
    if (typeof t.name === "string" && teammateIndex.get(t.name) === i && valid.length > 0)
      fromEdges.set(t.name, valid);
  });

  if (fromEdges.size === 0) return;
  const base = new Map<string, string[]>();
  const stageEdges = pipelineEdges(spec);
  for (const name of teammateIndex.keys()) {
    base.set(name, [...new Set([...(dependsOnEdges.get(name) ?? []), ...(stageEdges.get(name) ?? [])])]);
  }
  const combined = new Map<string, string[]>();
  for (const name of teammateIndex.keys()) {
    combined.set(name, [...new Set([...(base.get(name) ?? []), ...(fromEdges.get(name) ?? [])])]);
  }
  const names = [...teammateIndex.keys()];
  const baseGroups = findCycles(names, base).map((cycle) => new Set(cycle));
  for (const cycle of findCycles(names, combined)) {
    // A cycle of dependsOn or stages alone is already reported where it is declared.
    if (baseGroups.some((group) => cycle.every((name) => group.has(name)))) continue;
    const first = teammateIndex.get(cycle[0]!)!;
    issues.push(
      error(
        ["spec", "teammates", first, "inputs"],
        `Dependency cycle through artifact inputs (each input's "from" is a dependency): ${cycle.join(" → ")}; none of these teammates could ever start.`,
      ),
    );
  }
}

/** Teammate → teammates of every stage upstream of its own (transitively), from the raw pipeline. */
function pipelineEdges(spec: Raw): Map<string, string[]> {
  const stages = asArray(asObject(spec.pipeline).stages).map(asObject);
  const byName = new Map<string, Raw>();
  for (const stage of stages)
    if (typeof stage.name === "string" && !byName.has(stage.name)) byName.set(stage.name, stage);
  const edges = new Map<string, string[]>();
  for (const stage of byName.values()) {
    const upstream = new Set<string>();
    const queue = asArray(stage.dependsOn).filter((s): s is string => typeof s === "string");
    const seen = new Set<string>();
    while (queue.length > 0) {
      const name = queue.shift() as string;
      if (seen.has(name)) continue;
      seen.add(name);
      const up = byName.get(name);
      if (!up) continue;
      for (const t of asArray(up.teammates)) if (typeof t === "string") upstream.add(t);
      for (const d of asArray(up.dependsOn)) if (typeof d === "string") queue.push(d);
    }
    for (const t of asArray(stage.teammates)) {
      if (typeof t === "string")
        edges.set(
          t,
          [...upstream].filter((u) => u !== t),
        );
    }
  }
  return edges;
}
