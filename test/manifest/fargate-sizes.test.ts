/**
 * Fargate sizes: every size a manifest or the deployment config can produce is a combination
 * Fargate accepts (AWS's task size table, core/fargate-sizes.ts:
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size).
 * RunTask with any other cpu/memory override is refused, so an agent would fail at launch.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { agentItems, launchResources } from "../../core/control/lifecycle.ts";
import {
  agentFargateSize,
  FARGATE_SIZES,
  type FargateSize,
  isFargateSize,
} from "../../core/fargate-sizes.ts";
import { normalizeResource, validateResource } from "../../core/manifest/index.ts";
import type { AgentTeam } from "../../core/manifest/types.ts";
import { ConfigError, parseConfig } from "../../infra/config.ts";
import { baseTeam } from "./fixtures.ts";

/** What Kubernetes-style quantities a manifest may hold for cpu and memory (numbers too). */
const cpuQuantity = fc.oneof(
  fc.integer({ min: 1, max: 40 }).map(String),
  fc.integer({ min: 1, max: 40_000 }).map((m) => `${m}m`),
  fc.double({ min: 0.01, max: 40, noNaN: true }).map((v) => v.toFixed(2)),
  fc.integer({ min: 1, max: 40 }),
);
const memoryQuantity = fc.oneof(
  fc.integer({ min: 1, max: 200_000 }).map((v) => `${v}Mi`),
  fc.integer({ min: 1, max: 200 }).map((v) => `${v}Gi`),
  fc.integer({ min: 1, max: 200 }).map((v) => `${v}G`),
  fc.integer({ min: 1, max: 200_000 }).map((v) => `${v}M`),
  fc.integer({ min: 100_000_000, max: 200_000_000_000 }).map(String),
);
const resources = fc.oneof(
  fc.record({ cpu: cpuQuantity, memory: memoryQuantity }, { requiredKeys: [] }),
  fc.record(
    {
      requests: fc.record({ cpu: cpuQuantity, memory: memoryQuantity }, { requiredKeys: [] }),
      limits: fc.record({ cpu: cpuQuantity, memory: memoryQuantity }, { requiredKeys: [] }),
    },
    { requiredKeys: [] },
  ),
);

/** Every runnerCpu/runnerMemoryMiB pair parseConfig accepts. */
const fargatePair = fc.constantFrom(
  ...[...FARGATE_SIZES.entries()].flatMap(([cpu, mems]) => mems.map((memoryMiB) => ({ cpu, memoryMiB }))),
);

function teamWith(r: unknown) {
  const team = baseTeam();
  team.spec.teammates[0].resources = r;
  return team;
}

describe("Fargate task sizes", () => {
  it("the table is AWS's: 74 combinations from 0.25 vCPU/512 MiB to 16 vCPU/120 GiB", () => {
    const all = [...FARGATE_SIZES.values()].flat();
    expect(all).toHaveLength(74);
    expect(isFargateSize({ cpu: 256, memoryMiB: 512 })).toBe(true);
    expect(isFargateSize({ cpu: 256, memoryMiB: 4096 })).toBe(false);
    expect(isFargateSize({ cpu: 2048, memoryMiB: 2048 })).toBe(false);
    expect(isFargateSize({ cpu: 8192, memoryMiB: 20480 })).toBe(true);
    expect(isFargateSize({ cpu: 8192, memoryMiB: 18432 })).toBe(false); // 4 GiB steps
    expect(isFargateSize({ cpu: 16384, memoryMiB: 122880 })).toBe(true);
  });

  it("property: every manifest that validates, with every valid deployment size, launches a valid Fargate size at or above its request", () => {
    fc.assert(
      fc.property(resources, fargatePair, (r, deployment) => {
        const checked = validateResource(teamWith(r));
        const errors = checked.issues.filter((i) => i.severity === "error");
        if (errors.length > 0) {
          // Refused only for being larger than Fargate's largest task, at the field's path.
          for (const e of errors)
            expect(e.path).toMatch(/^spec\.teammates\[0\]\.resources\.(requests\.|limits\.)?(cpu|memory)$/);
          return;
        }
        const team = normalizeResource(teamWith(r)) as AgentTeam;
        for (const item of agentItems(team, deployment)) {
          const size = { cpu: Number(item.resources.ecsCpu), memoryMiB: Number(item.resources.ecsMemory) };
          expect(isFargateSize(size), JSON.stringify({ r, deployment, size })).toBe(true);
        }
        const agent = team.spec.teammates[0];
        const size = agentFargateSize(agent?.resources, deployment);
        if (agent?.resources?.cpu)
          expect(size.cpu).toBeGreaterThanOrEqual(
            (Number(agent.resources.cpu.replace(/m$/, "")) / (agent.resources.cpu.endsWith("m") ? 1000 : 1)) *
              1024 -
              1e-6,
          );
      }),
      { numRuns: 400 },
    );
  });

  it("property: the config accepts exactly the Fargate pairs for runnerCpu/runnerMemoryMiB, naming the key", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(256, 512, 1024, 2048, 4096, 8192, 16384),
        fc.integer({ min: 1, max: 240 }).map((k) => k * 512),
        (cpu, memoryMiB) => {
          let accepted = true;
          try {
            parseConfig({ runnerCpu: cpu, runnerMemoryMiB: memoryMiB });
          } catch (error) {
            expect(error).toBeInstanceOf(ConfigError);
            expect((error as Error).message).toMatch(/squadron\.runnerMemoryMiB: /);
            accepted = false;
          }
          expect(accepted).toBe(isFargateSize({ cpu, memoryMiB }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the docs' own values: cpu \"2\" and memory 1536Mi run as valid sizes; no resources means the deployment's size", () => {
    const deployment: FargateSize = { cpu: 2048, memoryMiB: 8192 };
    const team = normalizeResource(baseTeam()) as AgentTeam;
    const lead = team.spec.lead;
    // Before: always 1024/2048, whatever runnerCpu/runnerMemoryMiB said.
    expect(launchResources(lead, deployment)).toMatchObject({ ecsCpu: "2048", ecsMemory: "8192" });
    const small: FargateSize = { cpu: 1024, memoryMiB: 2048 };
    // cpu "2" alone: 2 vCPU takes at least 4 GiB (before: 2048/2048, refused by Fargate).
    expect(launchResources({ ...lead, resources: { cpu: "2" } }, small)).toMatchObject({
      ecsCpu: "2048",
      ecsMemory: "4096",
      k8sCpu: "2",
    });
    // 1536Mi is no Fargate memory size: the next one up for 1 vCPU (before: 1536, refused).
    expect(launchResources({ ...lead, resources: { memory: "1536Mi" } }, small)).toMatchObject({
      ecsCpu: "1024",
      ecsMemory: "2048",
      k8sMemory: "1536Mi",
    });
    // EKS gets the deployment's size when the manifest sets none.
    expect(launchResources(lead, deployment)).toMatchObject({ k8sCpu: "2", k8sMemory: "8192Mi" });
  });

  it("refuses requests beyond Fargate's largest task with the field path and the valid choices", () => {
    const issues = validateResource(teamWith({ limits: { cpu: "32", memory: "256Gi" } })).issues;
    expect(issues.map((i) => i.path)).toEqual([
      "spec.teammates[0].resources.limits.cpu",
      "spec.teammates[0].resources.limits.memory",
    ]);
    expect(issues[0]?.message).toMatch(/valid CPU: 0\.25, 0\.5, 1, 2, 4, 8 or 16/);
    expect(issues[1]?.message).toMatch(/120Gi/);
  });

  it("the config refuses a pair Fargate does not run, at synth, with the valid memory for that CPU", () => {
    expect(() => parseConfig({ runnerCpu: 2048, runnerMemoryMiB: 2048 })).toThrow(
      /squadron\.runnerMemoryMiB: 2048 is not a Fargate memory size for runnerCpu 2048: it takes 4096–16384 MiB in 1024 MiB steps/,
    );
    expect(parseConfig({}).runnerCpu).toBe(1024);
  });
});
