import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeScope, outOfScope } from "../../../runner/scope/match.ts";

describe("scope matching", () => {
  const files = [
    "src/api/users.ts",
    "src/api/v1/deep/x.ts",
    "src/web/app.ts",
    "README.md",
    "docs/a.md",
    "docs/guide/b.md",
    "src/api.ts",
  ];

  it.each([
    [["src/api/**"], [], ["src/web/app.ts", "README.md", "docs/a.md", "docs/guide/b.md", "src/api.ts"]],
    [["src/api"], [], ["src/web/app.ts", "README.md", "docs/a.md", "docs/guide/b.md", "src/api.ts"]],
    [
      ["src/api/"],
      ["src/api/v1/**"],
      ["src/api/v1/deep/x.ts", "src/web/app.ts", "README.md", "docs/a.md", "docs/guide/b.md", "src/api.ts"],
    ],
    [["**/*.md"], [], ["src/api/users.ts", "src/api/v1/deep/x.ts", "src/web/app.ts", "src/api.ts"]],
    [
      ["docs/*.md"],
      [],
      [
        "src/api/users.ts",
        "src/api/v1/deep/x.ts",
        "src/web/app.ts",
        "README.md",
        "docs/guide/b.md",
        "src/api.ts",
      ],
    ],
    [[], ["src/**"], ["src/api/users.ts", "src/api/v1/deep/x.ts", "src/web/app.ts", "src/api.ts"]],
    [
      ["./src/api/*.ts", "README.md"],
      [],
      ["src/api/v1/deep/x.ts", "src/web/app.ts", "docs/a.md", "docs/guide/b.md", "src/api.ts"],
    ],
    [["src/ap?.ts"], [], files.filter((f) => f !== "src/api.ts")],
  ])("include %j exclude %j", (includePaths, excludePaths, expected) => {
    expect(outOfScope(files, { includePaths, excludePaths })).toEqual(expected);
  });

  it("treats regex characters in paths literally", () => {
    expect(outOfScope(["a+b/c.ts", "aab/c.ts"], { includePaths: ["a+b"], excludePaths: [] })).toEqual([
      "aab/c.ts",
    ]);
  });

  it("an unrestricted scope allows everything; a file never both in and out", () => {
    const path = fc
      .array(fc.stringMatching(/^[a-z][a-z.]{0,5}$/), { minLength: 1, maxLength: 4 })
      .map((p) => p.join("/"));
    fc.assert(
      fc.property(fc.array(path), fc.array(path, { maxLength: 3 }), (paths, includes) => {
        expect(outOfScope(paths, { includePaths: [], excludePaths: [] })).toEqual([]);
        // Every listed include path is itself in scope.
        expect(outOfScope(includes, { includePaths: includes, excludePaths: [] })).toEqual([]);
        // Excluding everything leaves nothing in scope.
        expect(outOfScope(paths, { includePaths: [], excludePaths: ["**"] })).toEqual(paths);
      }),
    );
  });

  it("describes the scope for the system prompt", () => {
    const text = describeScope({ includePaths: ["src/api/**"], excludePaths: ["src/api/generated/**"] });
    expect(text).toContain("- src/api/**");
    expect(text).toContain("except these");
    expect(text).toContain("--no-verify");
    expect(describeScope({ includePaths: [], excludePaths: [] })).toBe("");
  });
});
