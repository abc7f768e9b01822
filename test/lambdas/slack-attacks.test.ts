import { describe, expect, it } from "vitest";
import { figureLine } from "../security/api-suite.ts";
import { runSlackAttacks } from "../security/slack-cases.ts";
import { newTable } from "./harness.ts";

/**
 * Slack webhook attacks (issue 14, point 4 and the authorization suite; the cases are in
 * test/security/slack-cases.ts, which bench/security.bench.ts runs too): every forged, stale,
 * tampered, wrong-user, name-spoofed, other-workspace and malformed click is refused and leaves the
 * gate as it was; a single honest click decides it once and records the user id first.
 * Prints tried / refused correctly / defects.
 */
describe("Slack interactivity attacks", () => {
  it("refuses forged, stale, wrong-user, name-spoofed, other-workspace and malformed clicks; an honest click decides once", async () => {
    const figures = await runSlackAttacks({ table: await newTable() });
    console.log(figureLine("slack attacks", figures, ` (${figures.fuzzed} of them property-based)`));
    expect(figures.defects).toEqual([]);
    expect(figures.decidedBy).toBe("U-ALICE (alice)");
    expect(figures.tried).toBeGreaterThanOrEqual(125);
  }, 60_000);
});
