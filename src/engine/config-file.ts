import { readFile } from "node:fs/promises";
import { z } from "zod";
import { AkvError } from "../errors.js";
import { INPUTS, INPUT_KEYS, type InputKey, type InputKind } from "./inputs.js";

function zodFor(kind: InputKind): z.ZodType {
  switch (kind) {
    case "string":
      return z.string();
    case "integer":
      return z.number().int();
    case "boolean":
      return z.boolean();
    case "list":
      return z.array(z.string());
  }
}

const inputFields = Object.fromEntries(INPUT_KEYS.map((key) => [key, zodFor(INPUTS[key].kind).optional().describe(INPUTS[key].description)]));

/** The --config file: every input by its camelCase name, plus how to sign in and where. */
export const ConfigFileSchema = z
  .object({
    $schema: z.string().optional(),
    ...inputFields,
    auth: z.enum(["auto", "cli", "env", "device-code", "managed-identity"]).optional().describe("How to sign in"),
    cloud: z.enum(["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"]).optional().describe("Which Azure cloud"),
    sandbox: z.boolean().optional().describe("Run against the built-in sandbox instead of Azure"),
    sandboxConfig: z.string().optional().describe("Path to a sandbox realism-knob file"),
  })
  .strict();
export type ConfigFile = z.infer<typeof ConfigFileSchema> & Partial<Record<InputKey, string | number | boolean | string[]>>;

export function configJsonSchema(): unknown {
  return z.toJSONSchema(ConfigFileSchema, { target: "draft-2020-12" });
}

export async function loadConfigFile(path: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a directory, not a file" : code === "EACCES" ? "is not readable" : (error as Error).message;
    throw AkvError.usage(`The config file ${path} ${why}.`, { code: "ConfigUnreadable", hint: "Pass --config with the path of a JSON file." });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, "")); // editors such as Notepad start UTF-8 files with a BOM
  } catch (error) {
    throw AkvError.usage(`The config file ${path} is not valid JSON: ${(error as Error).message}.`, { code: "ConfigInvalid" });
  }
  const parsed = ConfigFileSchema.safeParse(doc);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      if (issue.code === "unrecognized_keys") {
        const named = issue.keys.map((k) => {
          const meant = knownFieldLike(k, issue.path);
          return meant ? `"${k}" (did you mean "${meant}"?)` : `"${k}"`;
        });
        return `unknown field${issue.keys.length > 1 ? "s" : ""} ${named.join(", ")}`;
      }
      const field = issue.path.join(".") || "(top level)";
      return `field "${field}": ${issue.message}`;
    });
    throw AkvError.usage(`The config file ${path} is not valid: ${lines.join("; ")}.`, {
      code: "ConfigInvalid",
      hint: "The fields are listed in the README (Configuration) and in schema/config.schema.json.",
    });
  }
  return parsed.data as ConfigFile;
}

/** The known field a mistyped one stands for when only case, hyphens or underscores differ ("vault_name" → "vaultName"). */
function knownFieldLike(field: string, path: PropertyKey[]): string | undefined {
  const shape = path.length === 0 ? ConfigFileSchema.shape : undefined;
  if (!shape) return undefined;
  const squash = (name: string) => name.toLowerCase().replace(/[-_]/g, "");
  return Object.keys(shape).find((known) => squash(known) === squash(field));
}
