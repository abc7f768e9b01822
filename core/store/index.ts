export * from "./errors.ts";
export * from "./items.ts";
export type { PageKind } from "./page-token.ts";
export * from "./table-definition.ts";
export * from "./team-store.ts";
export * from "./usage-charge.ts";
