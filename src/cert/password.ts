import crypto from "node:crypto";

/** No 0/O/o, 1/l/I/i: nothing to misread when typed from a screen into CrashPlan. */
export const PFX_PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789";

/**
 * 30 characters in six dash-separated groups of five (about 173 bits), e.g. "Kp7xR-..."; dashes are safe in
 * shells, property files and password managers, and the groups make it easier to type.
 */
export function generatePfxPassword(): string {
  const groups: string[] = [];
  for (let g = 0; g < 6; g++) {
    let group = "";
    for (let i = 0; i < 5; i++) group += PFX_PASSWORD_ALPHABET[crypto.randomInt(PFX_PASSWORD_ALPHABET.length)];
    groups.push(group);
  }
  return groups.join("-");
}
