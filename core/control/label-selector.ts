/**
 * Kubernetes' equality-based label selectors, as `kubectl get -l` takes them:
 * `key=value` (or `==`), `key!=value`, `key` (has the label), `!key` (has not), comma-separated,
 * all of which must hold. Set-based forms (`in`, `notin`) are refused with a clear message.
 */
export type LabelRequirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "exists" }
  | { key: string; op: "!exists" };

export class LabelSelectorError extends Error {}

// A label key: an optional DNS-subdomain prefix and a name of at most 63 characters.
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function parseLabelSelector(selector: string): LabelRequirement[] {
  const requirements: LabelRequirement[] = [];
  for (const raw of selector.split(",")) {
    const part = raw.trim();
    if (part === "") throw new LabelSelectorError(`empty requirement in label selector "${selector}"`);
    if (/\s(not)?in\s*\(/.test(part)) {
      throw new LabelSelectorError(
        `set-based selectors (${part}) are not supported; use key=value, key!=value, key or !key`,
      );
    }
    const match = /^(!?)([^=!]+?)\s*(?:(==|=|!=)\s*(.*))?$/.exec(part);
    const [, not = "", key = "", op, value = ""] = match ?? [];
    if (!match || !KEY.test(key) || (not && op)) {
      throw new LabelSelectorError(
        `"${part}" is not a label requirement; use key=value, key!=value, key or !key`,
      );
    }
    if (op === undefined) {
      requirements.push(not ? { key, op: "!exists" } : { key, op: "exists" });
      continue;
    }
    if (!VALUE.test(value)) throw new LabelSelectorError(`"${value}" is not a label value (in "${part}")`);
    requirements.push({ key, op: op === "!=" ? "!=" : "=", value });
  }
  return requirements;
}

export function matchesLabels(
  labels: Readonly<Record<string, string>>,
  selector: LabelRequirement[],
): boolean {
  return selector.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    if (r.op === "exists") return has;
    if (r.op === "!exists") return !has;
    if (r.op === "=") return has && labels[r.key] === r.value;
    return !has || labels[r.key] !== r.value;
  });
}
