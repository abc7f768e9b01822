import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import {
  AGENT_CLIS,
  ManifestError,
  normalizeResource,
  parseManifests,
  parseResource,
  serializeResource,
  validateResource,
} from "../../core/manifest/index.ts";
import { examplesDir, yamlFiles } from "./fixtures.ts";

const RUNS = { numRuns: 120 };

/** Runs fn; anything thrown other than a ManifestError fails the property. */
function onlyManifestErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (problem) {
    if (!(problem instanceof ManifestError)) throw problem;
  }
}

const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
const text = fc.string({ minLength: 1, maxLength: 80 }).filter((s) => s.trim().length > 0);
const duration = fc
  .tuple(fc.nat(5), fc.nat(59), fc.nat(59))
  .filter(([h, m, s]) => h + m + s > 0)
  .map(([h, m, s]) => `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s ? `${s}s` : ""}`);

/** Valid teams: unique names, dependencies only on earlier teammates (so no cycles), gates on real teammates. */
const validTeam = fc
  .record({
    name: label,
    namespace: fc.option(label, { nil: undefined }),
    leadPrompt: text,
    teammates: fc.uniqueArray(
      label.filter((n) => n !== "lead"),
      { minLength: 0, maxLength: 6 },
    ),
    prompts: fc.array(text, { minLength: 6, maxLength: 6 }),
    deps: fc.array(fc.array(fc.nat(5), { maxLength: 3 }), { minLength: 6, maxLength: 6 }),
    clis: fc.array(fc.constantFrom(...AGENT_CLIS), { minLength: 6, maxLength: 6 }),
    coding: fc.boolean(),
    timeout: fc.option(duration, { nil: undefined }),
    budget: fc.option(
      fc.oneof(
        fc.integer({ min: 1, max: 500 }).map((cents) => (cents / 100).toFixed(2)),
        fc.double({ min: 0.01, max: 1000, noNaN: true }),
      ),
      { nil: undefined },
    ),
    gate: fc.boolean(),
    labels: fc.dictionary(label, fc.string({ maxLength: 20 }), { maxKeys: 3 }),
  })
  .map((t) => ({
    apiVersion: "squadron.dev/v1alpha1",
    kind: "AgentTeam",
    metadata: { name: t.name, namespace: t.namespace, labels: t.labels },
    spec: {
      ...(t.coding
        ? { repository: { url: "https://github.com/acme/app.git" } }
        : { workspace: { inputs: [{ mountPath: "/in", files: { "a.md": t.leadPrompt } }] } }),
      lead: { prompt: t.leadPrompt },
      teammates: t.teammates.map((name, i) => ({
        name,
        prompt: t.prompts[i],
        cli: t.clis[i],
        dependsOn: [...new Set((t.deps[i] ?? []).filter((d) => d < i).map((d) => t.teammates[d]))],
      })),
      lifecycle: {
        timeout: t.timeout,
        budgetLimit: t.budget,
        approvalGates: t.gate && t.teammates.length > 0 ? [{ event: `spawn-${t.teammates.at(-1)}` }] : [],
      },
    },
  }));

describe("property: nothing but ManifestError is ever thrown", () => {
  it("for random values given as a resource", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(Array.isArray(validateResource(value).issues)).toBe(true);
        onlyManifestErrors(() => normalizeResource(value));
      }),
      RUNS,
    );
  });

  it("for random text", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (input) => {
        expect(Array.isArray(parseManifests(input).issues)).toBe(true);
        onlyManifestErrors(() => parseResource(input));
      }),
      RUNS,
    );
  });

  const examples = yamlFiles(examplesDir).map((file) => JSON.parse(JSON.stringify(parseManifestsRaw(file))));

  it("for the examples with random parts replaced or removed", () => {
    const mutation = fc.record({
      example: fc.nat(examples.length - 1),
      steps: fc.array(fc.record({ pick: fc.nat(), value: fc.anything(), remove: fc.boolean() }), {
        minLength: 1,
        maxLength: 4,
      }),
    });
    fc.assert(
      fc.property(mutation, ({ example, steps }) => {
        const manifest = structuredClone(examples[example]);
        for (const step of steps) mutate(manifest, step);
        const result = validateResource(manifest);
        expect(result.resource !== undefined || result.issues.some((i) => i.severity === "error")).toBe(true);
        onlyManifestErrors(() => normalizeResource(manifest));
        onlyManifestErrors(() => parseResource(stringify(manifest)));
      }),
      RUNS,
    );
  });
});

describe("property: valid manifests round-trip", () => {
  it("generated teams are valid, and parse → serialize → parse is equal in YAML and JSON", () => {
    fc.assert(
      fc.property(validTeam, fc.constantFrom("yaml" as const, "json" as const), (manifest, format) => {
        const { resources, issues } = parseManifests(stringify(manifest));
        expect(issues).toEqual([]);
        const [resource] = resources;
        expect(resource).toStrictEqual(normalizeResource(manifest));
        expect(parseResource(serializeResource(resource!, format))).toStrictEqual(resource);
      }),
      RUNS,
    );
  });
});

function parseManifestsRaw(file: string): unknown {
  return JSON.parse(JSON.stringify(parseManifests(readFileSync(file, "utf8")).resources[0]));
}

/** Replaces or removes the pick-th node (in a depth-first walk) of the manifest. */
function mutate(root: unknown, step: { pick: number; value: unknown; remove: boolean }): void {
  const slots: [Record<string | number, unknown>, string | number][] = [];
  const walk = (node: unknown) => {
    if (typeof node !== "object" || node === null) return;
    for (const key of Object.keys(node)) {
      const slotKey = Array.isArray(node) ? Number(key) : key;
      slots.push([node as Record<string | number, unknown>, slotKey]);
      walk((node as Record<string, unknown>)[key]);
    }
  };
  walk(root);
  if (slots.length === 0) return;
  const [parent, key] = slots[step.pick % slots.length]!;
  if (step.remove && !Array.isArray(parent)) delete parent[key];
  else parent[key] = step.value;
}
