/**
 * Dependency cycles among agents. Tarjan's strongly connected components find every cyclic group
 * in one pass; for each group one concrete cycle is then traced so the message can name it
 * ("a → b → a"), starting from the group's first agent in manifest order.
 */
export function findCycles(
  nodes: readonly string[],
  edges: ReadonlyMap<string, readonly string[]>,
): string[][] {
  const order = new Map(nodes.map((node, index) => [node, index]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let counter = 0;

  const connect = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!order.has(next) || next === node) continue;
      if (!index.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        group.push(member);
      } while (member !== node);
      if (group.length > 1) groups.push(group);
    }
  };

  for (const node of nodes) if (!index.has(node)) connect(node);

  return groups
    .map((group) => traceCycle(group, edges, order))
    .sort((a, b) => order.get(a[0]!)! - order.get(b[0]!)!);
}

/** A path from the group's first member back to itself, staying inside the group (BFS: shortest). */
function traceCycle(
  group: readonly string[],
  edges: ReadonlyMap<string, readonly string[]>,
  order: ReadonlyMap<string, number>,
): string[] {
  const members = new Set(group);
  const start = [...group].sort((a, b) => order.get(a)! - order.get(b)!)[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of edges.get(node) ?? []) {
      if (!members.has(next) || next === node) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}
