import { describe, expect, it } from "vitest";
import { truncateOutput } from "../../../runner/finalize/gates.ts";
import { apiBaseUrl, parseGitHubUrl, renderTemplate } from "../../../runner/finalize/github.ts";
import { dependencyOrder } from "../../../runner/finalize/merge.ts";
import { agent } from "../workspace/team-fixture.ts";

describe("finalize helpers", () => {
  it.each([
    ["https://github.com/acme/app.git", { host: "github.com", owner: "acme", repo: "app" }],
    ["https://github.com/acme/app", { host: "github.com", owner: "acme", repo: "app" }],
    ["git@github.com:acme/app.git", { host: "github.com", owner: "acme", repo: "app" }],
    ["ssh://git@ghe.corp.example/acme/app.git", { host: "ghe.corp.example", owner: "acme", repo: "app" }],
  ])("parses %s", (url, expected) => {
    expect(parseGitHubUrl(url)).toEqual(expected);
  });

  it("refuses URLs that name no owner/repo", () => {
    expect(() => parseGitHubUrl("/tmp/origin.git")).toThrow(/cannot tell the GitHub owner/);
    expect(() => parseGitHubUrl("https://github.com/acme")).toThrow(/cannot tell/);
  });

  it("derives the API root", () => {
    expect(apiBaseUrl("github.com")).toBe("https://api.github.com");
    expect(apiBaseUrl("ghe.corp.example")).toBe("https://ghe.corp.example/api/v3");
  });

  it("renders templates and leaves unknown placeholders visible", () => {
    expect(renderTemplate("[{{ team }}] {{branch}} {{nope}}", { team: "t", branch: "b" })).toBe(
      "[t] b {{nope}}",
    );
  });

  it("orders teammates by dependencies and refuses cycles", () => {
    const order = dependencyOrder([
      agent("c", "teammate", { dependsOn: ["b"] }),
      agent("a", "teammate"),
      agent("b", "teammate", { dependsOn: ["a", "lead"] }),
    ]);
    expect(order.map((a) => a.name)).toEqual(["a", "b", "c"]);
    expect(() =>
      dependencyOrder([
        agent("x", "teammate", { dependsOn: ["y"] }),
        agent("y", "teammate", { dependsOn: ["x"] }),
      ]),
    ).toThrow(/cycle: x → y → x/);
  });

  it("truncates long output keeping its start and end", () => {
    const text = `START${"x".repeat(20_000)}END`;
    const out = truncateOutput(text);
    expect(out.startsWith("START")).toBe(true);
    expect(out.endsWith("END")).toBe(true);
    expect(out).toContain("characters omitted");
    expect(out.length).toBeLessThan(8_200);
    expect(truncateOutput("short")).toBe("short");
  });
});
