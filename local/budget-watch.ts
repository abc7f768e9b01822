import { type AttributeValue, type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import type { ControlDeps } from "../core/control/deps.ts";
import { type BudgetAction, checkBudget } from "../core/control/guards.ts";
import { isTeamPhase, isTerminalTeamPhase } from "../core/status/phases.ts";
import { RUN_SK, usageTotalAttr } from "../core/store/items.ts";

/**
 * The budget Lambda's stream, locally: after each usage write (seen by the embedded store) the
 * run item is read and handed to the same `checkBudget` as a MODIFY record whose old image holds
 * the cost seen last time. Checks of one run never overlap; writes during a check coalesce into
 * one more check, so a burst of usage reports costs a few reads, and nothing ever polls.
 */
export class BudgetWatch {
  private readonly lastCost = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private closed = false;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly deps: Pick<ControlDeps, "store" | "stopper" | "notifier" | "logger">,
    private readonly onAction: (pk: string, action: BudgetAction) => void = () => {},
  ) {}

  /** A usage write landed on the run item `pk`. */
  notify(pk: string): void {
    if (this.closed) return;
    if (this.inFlight.has(pk)) {
      this.dirty.add(pk);
      return;
    }
    const run = this.check(pk)
      .catch((error: unknown) =>
        this.deps.logger?.error("budget check failed", { pk, error: (error as Error).message }),
      )
      .finally(() => {
        this.inFlight.delete(pk);
        if (this.dirty.delete(pk)) this.notify(pk);
      });
    this.inFlight.set(pk, run);
  }

  private async check(pk: string): Promise<void> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: pk }, sk: { S: RUN_SK } },
        ConsistentRead: true,
      }),
    );
    if (!Item) {
      this.lastCost.delete(pk);
      return;
    }
    const attr = usageTotalAttr("costUsd");
    const cost = Number(Item[attr]?.N ?? 0);
    const before = this.lastCost.get(pk) ?? 0;
    // The cost seen last is kept for runs that can still cross their budget only: one entry per
    // ended run would grow with every run the stack ever ran (issue 14, item 16).
    const phase = Item.status?.M?.phase?.S;
    if (isTeamPhase(phase) && isTerminalTeamPhase(phase)) this.lastCost.delete(pk);
    else this.lastCost.set(pk, cost);
    const OldImage: Record<string, AttributeValue> = { ...Item, [attr]: { N: String(before) } };
    const action = await checkBudget(this.deps, {
      eventName: "MODIFY",
      dynamodb: { OldImage, NewImage: Item },
    });
    if (action !== "none") this.onAction(pk, action);
  }

  /**
   * The run item `pk` belongs to has ended: its last cost is dropped. Its last usage write came
   * while it was still running, so the check above kept it; without this one entry per run the
   * stack ever ran would stay.
   */
  forget(pk: string): void {
    this.lastCost.delete(pk);
  }

  /** Runs whose last seen cost is kept (those not ended): bounded by the runs in progress. */
  watched(): number {
    return this.lastCost.size;
  }

  /** Waits for checks under way (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.inFlight.values());
  }
}
