import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configJsonSchema, loadConfigFile } from "../../src/engine/config-file.js";

describe("config file", () => {
  it("the published JSON schema is the one the code validates with", async () => {
    const published = JSON.parse(await readFile(new URL("../../schema/config.schema.json", import.meta.url), "utf8"));
    expect(published).toEqual(configJsonSchema());
  });

  it("names unknown fields and wrong types", async () => {
    const dir = await mkdtemp(join(tmpdir(), "akv-config-"));
    const path = join(dir, "config.json");
    await writeFile(path, JSON.stringify({ vaultName: "kv-ok", vaultname: "typo", "resource-group": "rg", nonsense: 1, keySize: "big" }));
    const error = await loadConfigFile(path).catch((e) => e);
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/unknown fields "vaultname" \(did you mean "vaultName"\?\), "resource-group" \(did you mean "resourceGroup"\?\), "nonsense"[,;.]/);
    expect(error.message).toMatch(/field "keySize"/);
  });

  it("explains a missing file, a directory and bad JSON", async () => {
    const dir = await mkdtemp(join(tmpdir(), "akv-config-"));
    expect((await loadConfigFile(join(dir, "nope.json")).catch((e) => e)).message).toMatch(/does not exist/);
    expect((await loadConfigFile(dir).catch((e) => e)).message).toMatch(/is a directory/);
    await writeFile(join(dir, "bad.json"), "{ nope");
    expect((await loadConfigFile(join(dir, "bad.json")).catch((e) => e)).message).toMatch(/not valid JSON/);
  });
});
