import { describe, expect, it } from "vitest";
import { figureLine } from "./api-suite.ts";
import { runPathConfinement } from "./path-cases.ts";

/**
 * Path confinement suite (issue 14, point 2; the cases are in test/security/path-cases.ts, which
 * bench/security.bench.ts runs too): the outputs upload, the API's tasks/messages/logs readers and
 * the confined open itself, attacked with a link at every component, `..` and absolute paths, never
 * read a secret outside the run. Prints tried / refused correctly / defects.
 */
describe("path confinement of run-file readers", () => {
  it("outputs upload, team files, logs and the confined open follow no link out of the run and refuse .. and absolute paths", async () => {
    const figures = await runPathConfinement();
    console.log(figureLine("path confinement", figures));
    expect(figures.defects).toEqual([]);
    expect(figures.tried).toBeGreaterThanOrEqual(25);
  });
});
