/** Types of scope-check.cjs (plain JavaScript, so the hook program is the file itself). */
export declare function outOfScope(
  files: string[],
  scope: { includePaths: string[]; excludePaths: string[] },
): string[];
