/**
 * Trusting an extra CA (the sandbox's, or an Azure Stack's) for this process only. The SDKs use node:https
 * (core-rest-pipeline) and undici fetch (the Graph client); both read Node's default CA list per connection, so
 * widening that list once covers every client (verified for both) without NODE_EXTRA_CA_CERTS.
 *
 * The mechanism is the sandbox's `trustSandboxCa` (one process-wide implementation, deduplicated there); this
 * module only checks the input and names the failure for people.
 */
import * as tls from "node:tls";
import { AkvError } from "../errors.js";
import { trustSandboxCa } from "../sandbox/trust.js";

/** Adds `caPem` to the default CA list of this process. Idempotent. */
export function trustExtraCa(caPem: string): void {
  if (!/-----BEGIN CERTIFICATE-----/.test(caPem)) {
    throw AkvError.usage("The CA to trust is not a PEM certificate.", { code: "InvalidCaCertificate" });
  }
  if (typeof tls.setDefaultCACertificates !== "function") {
    throw AkvError.precondition("This Node.js cannot add a CA certificate at run time.", {
      code: "NodeTooOldForCustomCa",
      hint: "Upgrade Node.js to 22.19 or later, or start the CLI with NODE_EXTRA_CA_CERTS=<path to the CA file>.",
    });
  }
  trustSandboxCa(caPem.replace(/\r\n/g, "\n"));
}
