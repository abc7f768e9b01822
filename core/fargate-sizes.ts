/**
 * AWS Fargate task sizes: the CPU and memory combinations Fargate accepts, and how Squadron turns
 * an agent's `resources` (Kubernetes quantities) and the deployment's runnerCpu/runnerMemoryMiB
 * into one of them. Dependency-free: the manifest validation, Prepare and the CDK config share it.
 *
 * The table is AWS's "Task CPU and memory" table for Linux tasks
 * (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size,
 * also https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html#task_size):
 *
 * | CPU (units) | memory (MiB)                                   |
 * | 256  (.25)  | 512, 1024, 2048                                |
 * | 512  (.5)   | 1024 – 4096 in 1024 steps                      |
 * | 1024 (1)    | 2048 – 8192 in 1024 steps                      |
 * | 2048 (2)    | 4096 – 16384 in 1024 steps                     |
 * | 4096 (4)    | 8192 – 30720 in 1024 steps                     |
 * | 8192 (8)    | 16384 – 61440 in 4096 steps (Linux platform 1.4.0+) |
 * | 16384 (16)  | 32768 – 122880 in 8192 steps (Linux platform 1.4.0+) |
 *
 * RunTask overrides of `cpu`/`memory` must themselves be one of these combinations, or ECS refuses
 * the task ("No Fargate configuration exists for given values").
 */

const range = (from: number, to: number, step: number): number[] => {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
};

/** Valid memory (MiB) per CPU value (units), from AWS's table above. */
export const FARGATE_SIZES: ReadonlyMap<number, readonly number[]> = new Map([
  [256, [512, 1024, 2048]],
  [512, range(1024, 4096, 1024)],
  [1024, range(2048, 8192, 1024)],
  [2048, range(4096, 16384, 1024)],
  [4096, range(8192, 30720, 1024)],
  [8192, range(16384, 61440, 4096)],
  [16384, range(32768, 122880, 8192)],
]);

export const FARGATE_CPU_VALUES: readonly number[] = [...FARGATE_SIZES.keys()];
export const FARGATE_MAX_CPU = 16384;
export const FARGATE_MAX_MEMORY_MIB = 122880;

export interface FargateSize {
  /** CPU units (1024 = 1 vCPU). */
  cpu: number;
  memoryMiB: number;
}

export function isFargateSize(size: FargateSize): boolean {
  return FARGATE_SIZES.get(size.cpu)?.includes(size.memoryMiB) ?? false;
}

/** "The valid memory for 1024 CPU units is 2048–8192 MiB in 1024 steps", for error messages. */
export function describeFargateMemory(cpu: number): string {
  const mem = FARGATE_SIZES.get(cpu);
  if (!mem) return `CPU must be one of ${FARGATE_CPU_VALUES.join(", ")} units`;
  const step = mem.length > 1 ? (mem[1] as number) - (mem[0] as number) : 0;
  return `${mem[0]}–${mem.at(-1)} MiB${step ? ` in ${step} MiB steps` : ""}${cpu === 256 ? " (512, 1024 or 2048)" : ""}`;
}

/** Every valid combination, cheapest first (Fargate bills vCPU-hours and GB-hours; vCPU ≈ 9× a GB). */
const ALL_SIZES: readonly FargateSize[] = [...FARGATE_SIZES.entries()]
  .flatMap(([cpu, mems]) => mems.map((memoryMiB) => ({ cpu, memoryMiB })))
  .sort((a, b) => cost(a) - cost(b) || a.cpu - b.cpu);

function cost(s: FargateSize): number {
  // Relative on-demand prices (us-east-1): $0.04048 per vCPU-hour, $0.004445 per GB-hour.
  return (s.cpu / 1024) * 0.04048 + (s.memoryMiB / 1024) * 0.004445;
}

/**
 * The cheapest Fargate size with at least `cpu` units and `memoryMiB` MiB; undefined when the
 * request exceeds Fargate's largest task (16 vCPU, 120 GiB).
 */
export function smallestFargateSizeAtLeast(request: FargateSize): FargateSize | undefined {
  return ALL_SIZES.find((s) => s.cpu >= request.cpu && s.memoryMiB >= request.memoryMiB);
}

/** A Kubernetes CPU quantity ("2", "500m", "0.5") in CPU units (1024 per core); undefined if not one. */
export function cpuQuantityUnits(quantity: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(m)?$/.exec(quantity.trim());
  if (!m) return undefined;
  const cores = Number(m[1]) / (m[2] ? 1000 : 1);
  return Number.isFinite(cores) ? cores * 1024 : undefined;
}

const MEMORY_FACTORS: Record<string, number> = {
  "": 1 / (1024 * 1024),
  k: 1000 / (1024 * 1024),
  M: 1e6 / (1024 * 1024),
  G: 1e9 / (1024 * 1024),
  T: 1e12 / (1024 * 1024),
  Ki: 1 / 1024,
  Mi: 1,
  Gi: 1024,
  Ti: 1024 * 1024,
};

/** A Kubernetes memory quantity ("1536Mi", "4Gi", "4G", bytes) in MiB; undefined if not one. */
export function memoryQuantityMiB(quantity: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(quantity.trim());
  if (!m) return undefined;
  const mib = Number(m[1]) * (MEMORY_FACTORS[m[2] ?? ""] as number);
  return Number.isFinite(mib) ? mib : undefined;
}

/**
 * Why an agent's `resources` cannot run on Fargate (one message per field), or nothing. A request
 * is a floor: any value up to Fargate's largest task maps to a size (see agentFargateSize).
 */
export function fargateResourceProblems(resources: { cpu?: string; memory?: string } | undefined): {
  cpu?: string;
  memory?: string;
} {
  const out: { cpu?: string; memory?: string } = {};
  if (resources?.cpu !== undefined) {
    const units = cpuQuantityUnits(resources.cpu);
    if (units === undefined || units <= 0)
      out.cpu = `${JSON.stringify(resources.cpu)} is not a CPU quantity; write it like "500m", "1" or "2".`;
    else if (units > FARGATE_MAX_CPU)
      out.cpu = `${resources.cpu} CPU is more than Fargate's largest task (16 vCPU); valid CPU: 0.25, 0.5, 1, 2, 4, 8 or 16.`;
  }
  if (resources?.memory !== undefined) {
    const mib = memoryQuantityMiB(resources.memory);
    if (mib === undefined || mib <= 0)
      out.memory = `${JSON.stringify(resources.memory)} is not a memory quantity; write it like "512Mi" or "4Gi".`;
    else if (mib > FARGATE_MAX_MEMORY_MIB)
      out.memory = `${resources.memory} is more than Fargate's largest task (120Gi); valid memory is 512Mi to 120Gi, by CPU: ${FARGATE_CPU_VALUES.map((c) => `${c / 1024} vCPU ${describeFargateMemory(c)}`).join("; ")}.`;
  }
  return out;
}

/**
 * The Fargate size an agent runs with: the deployment's size (runnerCpu/runnerMemoryMiB, itself
 * a valid pair) where the manifest says nothing, raised to what the agent asks for (requests are
 * floors), then the cheapest valid combination at or above both. Validation has already refused
 * requests beyond Fargate's largest task; one that slipped through gets the largest size.
 */
export function agentFargateSize(
  resources: { cpu?: string; memory?: string } | undefined,
  deployment: FargateSize,
): FargateSize {
  const cpu = resources?.cpu !== undefined ? cpuQuantityUnits(resources.cpu) : undefined;
  const mem = resources?.memory !== undefined ? memoryQuantityMiB(resources.memory) : undefined;
  if (cpu === undefined && mem === undefined) return deployment;
  const request = {
    cpu: Math.ceil(cpu ?? deployment.cpu),
    memoryMiB: Math.ceil(mem ?? deployment.memoryMiB),
  };
  return (
    smallestFargateSizeAtLeast(request) ?? {
      cpu: FARGATE_MAX_CPU,
      memoryMiB: FARGATE_MAX_MEMORY_MIB,
    }
  );
}
