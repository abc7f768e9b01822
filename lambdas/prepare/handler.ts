// Placeholder so the CDK app can bundle this function; the real handler replaces this file.
export async function handler(_event: unknown): Promise<never> {
  throw new Error("lambdas/prepare: not implemented");
}
