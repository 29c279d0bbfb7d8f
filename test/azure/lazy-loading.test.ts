/** `--help` and `status` must not pay for the SDKs: src/azure imports them only with `import()` inside calls. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const dir = join(import.meta.dirname, "../../src/azure");

describe("lazy SDK loading", () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    it(`${file} has no static value import of an Azure or Graph SDK`, () => {
      const source = readFileSync(join(dir, file), "utf8");
      const staticImports = [...source.matchAll(/^import\s+(?!type\b)[^;]*?from\s+"(@azure\/[^"]+|@microsoft\/[^"]+)"/gms)].map((m) => m[1]);
      expect(staticImports).toEqual([]);
    });
  }
});
