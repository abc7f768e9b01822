import { describe, expect, it } from "vitest";
import { matchesLabels, parseLabelSelector } from "../../core/control/label-selector.ts";
import { call, harness, newTable, teamYaml } from "./harness.ts";

describe("label selectors (kubectl -l)", () => {
  const labels = { app: "billing", tier: "web", "squadron.dev/owner": "ops" };

  it.each([
    ["app=billing", true],
    ["app==billing", true],
    ["app=orders", false],
    ["app!=orders", true],
    ["app", true],
    ["!app", false],
    ["missing", false],
    ["!missing", true],
    ["missing!=x", true],
    ["app=billing,tier=web", true],
    ["app=billing,tier!=web", false],
    ["squadron.dev/owner=ops", true],
    ["constructor", false],
  ])("%s matches: %s", (selector, expected) => {
    expect(matchesLabels(labels, parseLabelSelector(selector))).toBe(expected);
  });

  it.each([
    ["app in (a,b)", /set-based selectors/],
    ["", /empty requirement/],
    ["a=b,,c", /empty requirement/],
    ["=x", /not a label requirement/],
    ["!a=b", /not a label requirement/],
    ["a=b c", /not a label value/],
  ])("refuses %j", (selector, message) => {
    expect(() => parseLabelSelector(selector)).toThrow(message);
  });

  it("filters GET teams by ?labelSelector= and answers 400 with the path for a bad one", async () => {
    const h = harness(await newTable());
    const ns = "/api/namespaces/labels-ns";
    const labelled = (name: string, app: string) =>
      teamYaml(name, { namespace: "labels-ns" }).replace(
        `name: ${name}\n`,
        `name: ${name}\n  labels:\n    app: ${app}\n`,
      );
    expect((await call(h, "POST", `${ns}/teams`, { body: labelled("one", "billing") })).status).toBe(201);
    expect((await call(h, "POST", `${ns}/teams`, { body: labelled("two", "orders") })).status).toBe(201);
    const billing = await call(h, "GET", `${ns}/teams`, { query: { labelSelector: "app=billing" } });
    expect(billing.status).toBe(200);
    expect(billing.body.items.map((t: { name: string; labels: unknown }) => [t.name, t.labels])).toEqual([
      ["one", { app: "billing" }],
    ]);
    const bad = await call(h, "GET", `${ns}/teams`, { query: { labelSelector: "app in (x)" } });
    expect(bad.status).toBe(400);
    expect(bad.body.issues).toEqual([{ path: "labelSelector", message: expect.stringMatching(/set-based/) }]);
  });
});
