import { describe, expect, it } from "vitest";
import { defaultScript } from "../../../runner/scripted-agent/defaults.ts";

describe("the scripted agent's default teammate script", () => {
  it("writes the teammate's declared outputs (kagents v0.8), so a simulated producer delivers them", () => {
    const steps = defaultScript({
      name: "writer",
      role: "teammate",
      members: ["lead", "writer"],
      outputDir: "output",
      declaredOutputs: ["output/digest.md", "output/writer.md"],
    });
    const written = steps.flatMap((step) => ("write" in step ? [step.write.path] : []));
    // Its own file once, then each declared output not already written.
    expect(written).toEqual(["output/writer.md", "output/digest.md"]);
    const finish = steps.findIndex((step) => "call" in step && step.call === "finish");
    const digest = steps.findIndex((step) => "write" in step && step.write.path === "output/digest.md");
    expect(digest).toBeLessThan(finish);
  });
});
