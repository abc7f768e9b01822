/**
 * The WAF web ACL (`waf: true`) lets ordinary API use through: AWS's core rule set blocks every
 * body over 8 KB (SizeRestrictions_BODY) and bodies that look like XSS, LFI/RFI or SSRF, which
 * prompts containing code do. Those rules count (and label) inside the managed group, and a rule
 * of ours blocks the labels on every path but /api/*.
 */
import { describe, expect, it } from "vitest";
import { CRS_BODY_RULES } from "../../infra/constructs/api.ts";
import { synth } from "./support.ts";

// biome-ignore lint/suspicious/noExplicitAny: template JSON has no static shape
type Json = any;

describe("WAF on the API (waf: true)", () => {
  const { template } = synth({ waf: true });
  const acl = Object.values(template.findResources("AWS::WAFv2::WebACL"))[0]?.Properties;
  const rules = acl.Rules as Array<Record<string, Json>>;

  it("the managed core rule set only counts its body rules", () => {
    const common = rules.find(
      (r) => r.Statement.ManagedRuleGroupStatement?.Name === "AWSManagedRulesCommonRuleSet",
    );
    const overrides = common?.Statement.ManagedRuleGroupStatement.RuleActionOverrides;
    expect(overrides).toEqual(
      [
        "SizeRestrictions_BODY",
        "CrossSiteScripting_BODY",
        "GenericLFI_BODY",
        "GenericRFI_BODY",
        "EC2MetaDataSSRF_BODY",
      ].map((name) => ({ Name: name, ActionToUse: { Count: {} } })),
    );
  });

  it("a later rule blocks those matches on every path but /api/* and /hooks/*", () => {
    const common = rules.find((r) => r.Name === "common");
    const scoped = rules.find((r) => r.Name === "common-body-rules-outside-api");
    expect(scoped?.Priority).toBeGreaterThan(common?.Priority);
    expect(scoped?.Action).toEqual({ Block: {} });
    const [labels, notApi] = (scoped as Json).Statement.AndStatement.Statements;
    expect(labels.OrStatement.Statements.map((s: Json) => s.LabelMatchStatement.Key)).toEqual(
      CRS_BODY_RULES.map((r) => r.label),
    );
    const regex = new RegExp(notApi.NotStatement.Statement.RegexMatchStatement.RegexString);
    expect(notApi.NotStatement.Statement.RegexMatchStatement.FieldToMatch).toEqual({ UriPath: {} });
    for (const path of [
      "/v1/api/tasks",
      "/api/namespaces/default/teams",
      "/v1/api/health",
      "/v1/hooks/cowork-agents/hooks/new-deal",
    ])
      expect(regex.test(path), path).toBe(true);
    for (const path of ["/v1/webhooks/slack", "/webhooks/slack", "/v1/apix/", "/v1/x/y/api/", "/v1/hooksx/"])
      expect(regex.test(path), path).toBe(false);
  });

  it("the other managed rules still block, and the rate limit comes after", () => {
    const rate = rules.find((r) => r.Name === "rate-limit");
    expect(rate?.Priority).toBe(Math.max(...rules.map((r) => r.Priority)));
    expect(new Set(rules.map((r) => r.Priority)).size).toBe(rules.length);
  });
});
