import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseManifests, validateResource } from "../../core/manifest/index.ts";
import { baseTeam, hasKagents, kagentsDir, kagentsSkipReason } from "./fixtures.ts";

function issuesOf(manifest: unknown) {
  return validateResource(manifest).issues.map(({ path, message, severity }) => ({
    path,
    message,
    severity,
  }));
}
const err = (path: string, message: string | RegExp) => ({
  path,
  message: typeof message === "string" ? message : expect.stringMatching(message),
  severity: "error",
});

function deliveringTeam(delivery: unknown, onComplete: string | null = "deliver") {
  const team = baseTeam();
  team.spec.lifecycle = { ...(onComplete ? { onComplete } : {}), delivery };
  return team;
}

const SUPPORTED = 'the supported types are "webhook" and "slack"';

describe("lifecycle.delivery (onComplete: deliver)", () => {
  it("webhook and slack targets validate and are kept as written", () => {
    // A fresh copy each time: what is expected is not the very objects validation was given.
    const targets = () => [
      {
        type: "webhook",
        url: "https://ops.example.com/hooks/done",
        message: "Done.",
        credentialsSecret: "hook-key",
      },
      { type: "slack", channel: "#digest", credentialsSecret: "slack-creds" },
      { type: "webhook", url: "http://127.0.0.1:8080/local" },
      { type: "webhook", url: "http://localhost:9/x" },
      { type: "webhook", url: "http://[::1]:9/x" },
    ];
    const result = validateResource(deliveringTeam(targets()));
    expect(result.issues).toEqual([]);
    expect(result.resource?.kind === "AgentTeam" && result.resource.spec.lifecycle).toMatchObject({
      onComplete: "deliver",
      delivery: targets(),
    });
  });

  it("email and google-drive are refused at validation, naming the supported types", () => {
    expect(
      issuesOf(
        deliveringTeam([
          { type: "email", to: ["a@example.com"], subject: "Digest" },
          { type: "google-drive", folder: "Reports", credentialsSecret: "drive" },
          { message: "no type" },
        ]),
      ),
    ).toEqual([
      err(
        "spec.lifecycle.delivery[0].type",
        `Delivery type "email" is not supported by Squadron; ${SUPPORTED}.`,
      ),
      err(
        "spec.lifecycle.delivery[1].type",
        `Delivery type "google-drive" is not supported by Squadron; ${SUPPORTED}.`,
      ),
      err(
        "spec.lifecycle.delivery[2].type",
        'A delivery target needs a type: "webhook" and "slack" are supported.',
      ),
    ]);
  });

  it('onComplete "deliver" without targets, and targets without onComplete "deliver", are errors at lifecycle.delivery', () => {
    const noDelivery = baseTeam();
    noDelivery.spec.lifecycle = { onComplete: "deliver" };
    const message =
      'onComplete "deliver" needs lifecycle.delivery with at least one target (type "webhook" and "slack").';
    expect(issuesOf(noDelivery)).toEqual([err("spec.lifecycle.delivery", message)]);
    expect(issuesOf(deliveringTeam([]))).toEqual([err("spec.lifecycle.delivery", message)]);
    expect(issuesOf(deliveringTeam([{ type: "webhook", url: "https://x.example/h" }], null))).toEqual([
      err(
        "spec.lifecycle.delivery",
        'lifecycle.delivery is sent only with onComplete "deliver" (found "notify"); set onComplete: deliver or remove delivery.',
      ),
    ]);
    expect(issuesOf(deliveringTeam([{ type: "webhook", url: "https://x.example/h" }], "create-pr"))).toEqual([
      err("spec.lifecycle.delivery", /\(found "create-pr"\)/),
    ]);
  });

  it("each target's missing or misplaced fields are reported at once with their paths", () => {
    expect(
      issuesOf(
        deliveringTeam([
          { type: "webhook" },
          { type: "webhook", url: "http://ops.example.com/hook" },
          { type: "webhook", url: "ftp://ops.example.com/hook" },
          {
            type: "webhook",
            url: "https://ops.example.com/hook",
            channel: "#x",
            artifactPath: "/workspace/output/a",
          },
          { type: "slack", channel: "#x" },
          { type: "slack", credentialsSecret: "s", url: "https://hooks.slack.com/services/T/B/x" },
          { type: "slack", credentialsSecret: "s", to: ["a@example.com"] },
        ]),
      ),
    ).toEqual([
      err(
        "spec.lifecycle.delivery[0].url",
        "A webhook delivery target needs a url: an https:// URL (http:// only to a loopback address such as 127.0.0.1).",
      ),
      err(
        "spec.lifecycle.delivery[1].url",
        '"http://ops.example.com/hook" is not an https:// URL (http:// only to a loopback address such as 127.0.0.1).',
      ),
      err("spec.lifecycle.delivery[2].url", /"ftp:\/\/ops\.example\.com\/hook" is not an https:\/\/ URL/),
      err(
        "spec.lifecycle.delivery[3].artifactPath",
        "artifactPath is not supported: every delivery lists all the run's artifacts (name, size, where).",
      ),
      err("spec.lifecycle.delivery[3].channel", "channel applies to slack delivery targets only."),
      err(
        "spec.lifecycle.delivery[4].credentialsSecret",
        'A slack delivery target needs credentialsSecret: the secret whose key "slack-webhook-url" holds the incoming-webhook URL.',
      ),
      err("spec.lifecycle.delivery[5].url", /takes its URL from credentialsSecret/),
      err("spec.lifecycle.delivery[6].to", /belongs to kagents' email and google-drive targets/),
    ]);
  });
});

describe.skipIf(!hasKagents)(hasKagents ? "kagents' delivery-team sample" : kagentsSkipReason, () => {
  it("validates with nothing said about delivery once its teammates' outputs (another change) are removed", () => {
    const text = readFileSync(`${kagentsDir}/delivery-team.yaml`, "utf8");
    const withoutOutputs = text.replace(/^ {6}outputs:\n(?: {8}.*\n)+/m, "");
    expect(withoutOutputs).not.toContain("outputs:");
    const { resources, issues } = parseManifests(withoutOutputs);
    expect(issues).toEqual([]);
    const team = resources[0];
    expect(team?.kind === "AgentTeam" && team.spec.lifecycle).toMatchObject({
      onComplete: "deliver",
      delivery: [
        {
          type: "webhook",
          url: "https://ops.example.com/hooks/team-completed",
          message: "Weekly digest finished.",
        },
        {
          type: "slack",
          channel: "#weekly-digest",
          message: "Fresh digest is in. Artifact list below.",
          credentialsSecret: "slack-creds",
        },
      ],
    });
    // As published (with outputs), nothing it reports concerns delivery.
    const asPublished = parseManifests(text).issues;
    expect(asPublished.filter((i) => /deliver/.test(`${i.path} ${i.message}`))).toEqual([]);
  });
});
