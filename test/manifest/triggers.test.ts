import { describe, expect, it } from "vitest";
import { validateResource } from "../../core/manifest/index.ts";

/** kagents' published sample, config/samples/webhook-trigger.yaml (kagents v0.8), unchanged. */
const KAGENTS_SAMPLE = {
  apiVersion: "kagents.dev/v1alpha1",
  kind: "AgentTeamTrigger",
  metadata: { name: "new-deal-onboarding", namespace: "cowork-agents" },
  spec: {
    trigger: { webhook: { path: "/hooks/new-deal", secret: "webhook-hmac-secret" } },
    templateRef: { name: "deal-onboarding-team" },
    auth: { apiKeySecret: "anthropic-api-key" },
    lead: {
      model: "opus",
      prompt:
        "A new deal has closed. Coordinate the onboarding flow per the\ntemplate; the deal payload is mounted at\n/workspace/data/trigger-payload.json.\n",
    },
    workspace: { output: { mountPath: "/workspace/output", size: "1Gi" } },
    payloadInjection: { mountPath: "/workspace/data/trigger-payload.json" },
    concurrencyPolicy: "Allow",
  },
};

// biome-ignore lint/suspicious/noExplicitAny: tests edit the manifest freely, as a user would
const sample = () => structuredClone(KAGENTS_SAMPLE) as Record<string, any>;
const errors = (manifest: unknown) =>
  validateResource(manifest)
    .issues.filter((i) => i.severity === "error")
    .map(({ path, message }) => ({ path, message }));

describe("AgentTeamTrigger validation", () => {
  it("accepts kagents' sample unchanged, with no warning, keeping its apiVersion", () => {
    const result = validateResource(KAGENTS_SAMPLE);
    expect(result.issues).toEqual([]);
    expect(result.resource).toMatchObject({
      apiVersion: "kagents.dev/v1alpha1",
      kind: "AgentTeamTrigger",
      spec: {
        trigger: { webhook: { path: "/hooks/new-deal", secret: "webhook-hmac-secret" } },
        concurrencyPolicy: "Allow",
        payloadInjection: { mountPath: "/workspace/data/trigger-payload.json" },
        lead: { name: "lead", model: "opus", cli: "claude" },
      },
    });
  });

  it("defaults concurrencyPolicy to Allow (kagents' default)", () => {
    const m = sample();
    delete m.spec.concurrencyPolicy;
    expect(validateResource(m).resource?.spec).toMatchObject({ concurrencyPolicy: "Allow" });
  });

  it("requires a secret: kagents' unsigned mode is refused on Squadron's public route", () => {
    const m = sample();
    delete m.spec.trigger.webhook.secret;
    expect(errors(m)).toEqual([
      {
        path: "spec.trigger.webhook.secret",
        message: expect.stringMatching(/^trigger\.webhook\.secret is required/),
      },
    ]);
  });

  it("reports every problem with its field path at once", () => {
    const m = sample();
    m.spec.trigger.webhook.path = "/hooks/../admin";
    m.spec.concurrencyPolicy = "Queue";
    m.spec.payloadInjection.mountPath = "/etc/payload.json";
    m.spec.repository = { url: "https://github.com/acme/x.git" };
    delete m.spec.templateRef;
    const paths = errors(m).map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "spec.trigger.webhook.path",
        "spec.concurrencyPolicy",
        "spec.payloadInjection.mountPath",
        "spec",
        "spec.templateRef",
      ]),
    );
  });

  it.each([
    ["no leading slash", "hooks/x"],
    ["an empty segment", "/hooks//x"],
    ["a query", "/hooks/x?y=1"],
    ["a dot segment", "/hooks/./x"],
    ["too long", `/${"a".repeat(200)}`],
  ])("refuses a webhook path with %s", (_what, path) => {
    const m = sample();
    m.spec.trigger.webhook.path = path;
    expect(errors(m).map((e) => e.path)).toEqual(["spec.trigger.webhook.path"]);
  });

  it("refuses a payload mountPath that is not a file under /workspace/", () => {
    for (const mountPath of ["/workspace/", "/workspace", "relative.json", "/workspace/../etc/x"]) {
      const m = sample();
      m.spec.payloadInjection.mountPath = mountPath;
      expect(
        errors(m).map((e) => e.path),
        mountPath,
      ).toEqual(["spec.payloadInjection.mountPath"]);
    }
  });

  it("applies the run's rules to the run fields: neither repository nor workspace is an error", () => {
    const m = sample();
    delete m.spec.workspace;
    expect(errors(m)).toEqual([{ path: "spec", message: expect.stringMatching(/neither is set/) }]);
  });
});
