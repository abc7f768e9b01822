export * from "./phases.ts";
export * from "./status.ts";
export * from "./types.ts";
