import { readFileSync } from "node:fs";

/** The CLI's version: package.json's, so `squadron version` and `--version` never drift from it. */
export const SQUADRON_VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
