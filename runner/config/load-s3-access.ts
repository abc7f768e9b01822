import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

type S3Access = typeof import("./s3-access.ts");

let loaded: Promise<S3Access> | undefined;

/**
 * runner/config/s3-access.ts, loaded on first use. Bundled, the runner is entrypoint.cjs and S3's
 * part is the file s3-access.cjs beside it (runner/build.ts), required when first needed; from the
 * sources (tsx) it is the module itself. The specifier is not a literal on purpose: esbuild would
 * otherwise pull the module into the runner's bundle, and a module bundled for lazy evaluation
 * keeps every command of the S3 client (runner/config/services.ts).
 */
export function loadS3Access(): Promise<S3Access> {
  loaded ??= (async () => {
    const here = import.meta.url;
    if (here.endsWith(".cjs")) {
      const file = fileURLToPath(new URL("./s3-access.cjs", here));
      return createRequire(here)(file) as S3Access;
    }
    const source = new URL(["./s3-access", "ts"].join("."), here).href;
    return (await import(source)) as S3Access;
  })();
  return loaded;
}
