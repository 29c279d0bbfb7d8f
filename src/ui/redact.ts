/**
 * Every secret is registered here the moment it enters (typed, piped, read from a file, generated),
 * and every line a person or a log sees passes through redact().
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  register(secret: string | undefined): void {
    if (!secret) return;
    const trimmed = secret.trim();
    // Very short values would blank out ordinary words; passwords that short are refused elsewhere.
    if (trimmed.length >= 6) this.secrets.add(trimmed);
    if (secret.length >= 6) this.secrets.add(secret);
  }

  redact(text: string): string {
    let result = text;
    for (const secret of this.secrets) {
      if (result.includes(secret)) result = result.split(secret).join("[redacted]");
    }
    // Bearer tokens and PEM private keys never belong in output, registered or not.
    result = result.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{20,}/g, "$1[redacted]");
    result = result.replace(/-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g, "[redacted private key]");
    result = result.replace(/\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b/g, "[redacted token]");
    return result;
  }
}
