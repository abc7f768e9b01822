import { isDeepStrictEqual } from "node:util";

/**
 * The field paths where two manifests differ (`spec.teammates[1].prompt`,
 * `metadata.labels.team`), for a 409 that says what an apply would change. Objects are compared
 * key by key (the stored spec comes back from DynamoDB with its keys in another order); arrays
 * element by element, a length change naming the array itself. At most `limit` paths.
 */
export function changedPaths(before: unknown, after: unknown, path = "", limit = 20): string[] {
  const out: string[] = [];
  walk(before, after, path, out, limit);
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function walk(a: unknown, b: unknown, path: string, out: string[], limit: number): void {
  if (out.length >= limit || isDeepStrictEqual(a, b)) return;
  if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
    for (const [i, item] of a.entries()) walk(item, b[i], `${path}[${i}]`, out, limit);
    return;
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) {
      // An absent key and an undefined one are the same manifest.
      if (a[key] === undefined && b[key] === undefined) continue;
      walk(a[key], b[key], path ? `${path}.${key}` : key, out, limit);
    }
    return;
  }
  out.push(path || "(root)");
}
