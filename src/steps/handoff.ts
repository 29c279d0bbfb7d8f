import { join } from "node:path";
import { writeFileAtomic } from "../state/atomic-file.js";
import { CRASHPLAN_CLOUDS } from "../engine/inputs.js";
import type { StateFile } from "../state/schema.js";

export interface Handoff {
  vaultUrl: string;
  tenantId?: string;
  clientId?: string;
  pfxPath?: string;
  certificateThumbprint?: string;
  certificateExpires?: string;
  passwordLocation?: string;
  console: string;
}

export const CONSOLE_STEPS = [
  "Sign in to the CrashPlan console as an administrator",
  "Administration → Environment → Keystore",
  "Migrate keystore → Self-administered (Azure Key Vault)",
  "Vault URL: the URL above (no path, no trailing slash)",
  "Certificate: upload the PFX above; Password: the PFX password",
  "Confirm, and wait until the console says the migration finished",
];

export function consoleUrl(preset: string | undefined): string {
  if (!preset) return CRASHPLAN_CLOUDS.us!;
  return CRASHPLAN_CLOUDS[preset] ?? preset;
}

export function handoffFromState(state: StateFile, workdir: string): Handoff | undefined {
  const vault = state.steps.vault?.outputs ?? {};
  if (typeof vault.vaultUrl !== "string") return undefined;
  const app = state.steps.app?.outputs ?? {};
  const cert = state.steps.cert?.outputs ?? {};
  const pfx = state.steps.pfx?.outputs ?? {};
  const s = (v: unknown) => (typeof v === "string" ? v : undefined);
  const out: Handoff = { vaultUrl: vault.vaultUrl, console: consoleUrl(s(state.answers.crashplanCloud)) };
  const put = (key: keyof Handoff, value: string | undefined) => {
    if (value) (out as unknown as Record<string, string>)[key] = value;
  };
  put("tenantId", s(app.tenantId));
  put("clientId", s(app.clientId));
  put("pfxPath", s(pfx.pfxPath) ?? (state.steps.pfx?.status === "done" ? join(workdir, "service-principal.pfx") : undefined));
  put("certificateThumbprint", s(cert.sha1));
  put("certificateExpires", s(cert.notAfter));
  put("passwordLocation", s(pfx.passwordLocation));
  return out;
}

export function renderHandoff(handoff: Handoff): string {
  const rows: Array<[string, string | undefined]> = [
    ["Vault URL", handoff.vaultUrl],
    ["Tenant ID", handoff.tenantId],
    ["Client ID", handoff.clientId],
    ["PFX file", handoff.pfxPath],
    ["PFX password", handoff.passwordLocation],
    ["Certificate", handoff.certificateThumbprint ? `SHA-1 ${handoff.certificateThumbprint}, expires ${handoff.certificateExpires?.slice(0, 10) ?? "?"}` : undefined],
    ["Console", handoff.console],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.filter(([, v]) => v).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  lines.push("", "  In the CrashPlan console:");
  CONSOLE_STEPS.forEach((step, i) => lines.push(`    ${i + 1}. ${step}`));
  lines.push("", "  Until the migration finishes, change no vault setting (firewall, role, certificate). Back up the keystore first.");
  return lines.join("\n");
}

export function handoffMarkdown(handoff: Handoff, now: Date): string {
  return [
    "# CrashPlan keystore hand-off",
    "",
    `Written by akv-crashplan on ${now.toISOString()}. The PFX password is not in this file.`,
    "",
    "| Field | Value |",
    "|---|---|",
    `| Vault URL | \`${handoff.vaultUrl}\` |`,
    `| Tenant ID | \`${handoff.tenantId ?? "-"}\` |`,
    `| Client ID | \`${handoff.clientId ?? "-"}\` |`,
    `| PFX file | \`${handoff.pfxPath ?? "-"}\` |`,
    `| PFX password | ${handoff.passwordLocation ?? "-"} |`,
    `| Certificate SHA-1 | \`${handoff.certificateThumbprint ?? "-"}\` |`,
    `| Certificate expires | ${handoff.certificateExpires ?? "-"} |`,
    `| CrashPlan console | ${handoff.console} |`,
    "",
    "## In the CrashPlan console",
    "",
    ...CONSOLE_STEPS.map((step, i) => `${i + 1}. ${step}`),
    "",
    "Change no vault setting until the migration finishes, and back up the keystore first.",
    "",
    "## Afterwards",
    "",
    "- `akv-crashplan migrate --verify` checks that the keystore entries arrived in the vault.",
    "- Run a test backup and a test restore, then `akv-crashplan migrate --confirm-backup-restore`.",
    "",
  ].join("\n");
}

/** The hand-off file is derived from the state: once written, it follows every later change (a new PFX, a rotated
 * certificate, a moved workdir). */
export async function rewriteHandoffFile(state: StateFile, workdir: string): Promise<void> {
  const file = state.steps.migrate?.outputs.handoffFile;
  if (typeof file !== "string") return;
  const handoff = handoffFromState(state, workdir);
  if (handoff) await writeFileAtomic(file, handoffMarkdown(handoff, new Date()), 0o600);
}
