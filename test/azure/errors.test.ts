/**
 * errors.ts against the errors the real SDKs build from real Azure error bodies (azure-examples): each SDK client
 * runs unmodified over a canned transport, throws its own RestError/GraphError/AuthenticationError, and we map it.
 */
import { inspect } from "node:util";
import { AuthorizationManagementClient } from "@azure/arm-authorization";
import { KeyVaultManagementClient } from "@azure/arm-keyvault";
import { RestError } from "@azure/core-rest-pipeline";
import { ClientSecretCredential } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { Client } from "@microsoft/microsoft-graph-client";
import { describe, expect, it } from "vitest";
import { AkvError, ExitCode } from "../../src/errors.js";
import { hasAzureCode, isNotFoundError, parseAzureError, scrubSecrets, toAkvError } from "../../src/azure/errors.js";
import {
  type CannedAnswer,
  cannedGraphMiddleware,
  cannedHttpClient,
  example,
  FAKE_TOKEN,
  reportedCase,
  staticCredential,
} from "./helpers/canned.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const TENANT = "11111111-1111-1111-1111-111111111111";
const noRetry = { retryOptions: { maxRetries: 0 } };

async function thrown(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to throw");
}

function mapped(error: unknown, operation = "do the thing"): AkvError {
  const result = toAkvError(error, { operation });
  expect(result).toBeInstanceOf(AkvError);
  return result as AkvError;
}

async function armKeyVaultError(answer: CannedAnswer): Promise<unknown> {
  const kv = new KeyVaultManagementClient(staticCredential, SUB, { httpClient: cannedHttpClient(answer), ...noRetry });
  return thrown(() =>
    kv.vaults.beginCreateOrUpdateAndWait("rg", "kv1", {
      location: "westeurope",
      properties: { tenantId: TENANT, sku: { family: "A", name: "standard" } },
    }),
  );
}

async function authorizationError(answer: CannedAnswer): Promise<unknown> {
  const client = new AuthorizationManagementClient(staticCredential, SUB, { httpClient: cannedHttpClient(answer), ...noRetry });
  return thrown(() =>
    client.roleAssignments.create(`subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1`, "a", {
      roleDefinitionId: "/providers/Microsoft.Authorization/roleDefinitions/b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
      principalId: "p",
      principalType: "ServicePrincipal",
    }),
  );
}

const SECRET_VALUE = "probe-value-that-must-never-leak-7f3a";

async function secretsError(answer: CannedAnswer, op: "set" | "get" = "set"): Promise<unknown> {
  const client = new SecretClient("https://kv1.vault.azure.net", staticCredential, { httpClient: cannedHttpClient(answer), ...noRetry });
  return thrown(() => (op === "set" ? client.setSecret("probe", SECRET_VALUE) : client.getSecret("probe")));
}

async function graphError(answer: CannedAnswer | (() => never)): Promise<unknown> {
  const client = Client.initWithMiddleware({ middleware: cannedGraphMiddleware(answer) });
  return thrown(() => client.api("/applications/1639f4e8-77ac-41d4-9e90-8f206b5c6392").get());
}

describe("ARM Key Vault errors (RestError from arm-keyvault 5)", () => {
  it("VaultAlreadyExists: code, status, exit 6, a hint about global names", async () => {
    const error = mapped(await armKeyVaultError(reportedCase("keyvault-arm/errors.reported.json", "VaultAlreadyExists")), "create the Key Vault 'kv1'");
    expect(error.code).toBe("VaultAlreadyExists");
    expect(error.exitCode).toBe(ExitCode.azure);
    expect(error.details).toMatchObject({ status: 409, azureCode: "VaultAlreadyExists" });
    expect(error.details?.azureMessage).toContain("is already in use");
    expect(error.message).toMatch(/^Could not create the Key Vault 'kv1': The vault name 'arcgis-enterprise' is already in use\..*\(VaultAlreadyExists, HTTP 409\)$/);
    expect(error.hint).toMatch(/global/);
  });

  it("ConflictError for a soft-deleted name says recover or choose another", async () => {
    const error = mapped(await armKeyVaultError(reportedCase("keyvault-arm/errors.reported.json", "ConflictError")));
    expect(error.code).toBe("ConflictError");
    expect(error.exitCode).toBe(ExitCode.azure);
    expect(error.hint).toMatch(/soft-deleted/);
  });

  it("VaultNameNotValid is bad input (exit 2)", async () => {
    const error = mapped(await armKeyVaultError(reportedCase("keyvault-arm/errors.reported.json", "VaultNameNotValid")));
    expect(error.code).toBe("VaultNameNotValid");
    expect(error.exitCode).toBe(ExitCode.usage);
  });

  it("429 (not retried without Retry-After) and 503 after retries are exit 6", async () => {
    const throttled = mapped(await armKeyVaultError({ status: 429, body: { error: { code: "TooManyRequests", message: "Slow down." } } }));
    expect(throttled).toMatchObject({ code: "TooManyRequests", exitCode: ExitCode.azure });
    expect(throttled.hint).toMatch(/throttling/);
    const unavailable = mapped(await armKeyVaultError({ status: 503, body: { error: { code: "ServiceUnavailable", message: "Try later." } } }));
    expect(unavailable).toMatchObject({ code: "ServiceUnavailable", exitCode: ExitCode.azure });
  });

  it("a 404 on get is recognised as not found", async () => {
    const kv = new KeyVaultManagementClient(staticCredential, SUB, {
      httpClient: cannedHttpClient({ status: 404, body: { error: { code: "ResourceNotFound", message: "The Resource 'Microsoft.KeyVault/vaults/kv1' under resource group 'rg' was not found." } } }),
      ...noRetry,
    });
    const error = await thrown(() => kv.vaults.get("rg", "kv1"));
    expect(isNotFoundError(error)).toBe(true);
    expect(hasAzureCode(error, "ResourceNotFound")).toBe(true);
  });

  it("a failed long-running operation (plain Error from core-lro) is exit 6 with its code", () => {
    const error = mapped(new Error("The long-running operation has failed. InternalError. Something broke."));
    expect(error).toMatchObject({ code: "InternalError", exitCode: ExitCode.azure });
  });
});

describe("ARM Authorization errors (RestError from arm-authorization 9)", () => {
  it("RoleAssignmentExists is exit 6 with Azure's code (the step treats it as success once verified)", async () => {
    const error = mapped(await authorizationError(reportedCase("authorization/errors.reported.json", "RoleAssignmentExists")));
    expect(error).toMatchObject({ code: "RoleAssignmentExists", exitCode: ExitCode.azure });
    expect(error.details).toMatchObject({ status: 409 });
  });

  it("PrincipalNotFound keeps its code", async () => {
    const error = mapped(await authorizationError(reportedCase("authorization/errors.reported.json", "PrincipalNotFound")));
    expect(error).toMatchObject({ code: "PrincipalNotFound", exitCode: ExitCode.azure });
  });

  it("AuthorizationFailed is exit 5 and the hint names the role and the scope", async () => {
    const error = mapped(await authorizationError(reportedCase("authorization/errors.reported.json", "AuthorizationFailed")));
    expect(error).toMatchObject({ code: "AuthorizationFailed", exitCode: ExitCode.permission });
    expect(error.hint).toContain("'User Access Administrator' or 'Owner'");
    expect(error.hint).toContain("/providers/Microsoft.KeyVault/vaults/kv-chn-epic-shared-cus");
    expect(error.hint).not.toContain("roleAssignments/ad4af6a9");
  });
});

describe("Key Vault data-plane errors (RestError from keyvault-secrets 4)", () => {
  it("ForbiddenByFirewall: inner code wins, client address parsed, exit 5", async () => {
    const reported = reportedCase("keyvault-data/errors-403.reported.json", "ForbiddenByFirewall");
    const body = JSON.parse(JSON.stringify(reported.body).replace("Client address: XXXX", "Client address: 203.0.113.7")) as unknown;
    const error = mapped(await secretsError({ status: 403, body }));
    expect(error.code).toBe("ForbiddenByFirewall");
    expect(error.exitCode).toBe(ExitCode.permission);
    expect(error.details).toMatchObject({ status: 403, azureCode: "Forbidden", innerCode: "ForbiddenByFirewall", clientAddress: "203.0.113.7" });
    expect(error.hint).toContain("--allow-my-ip 203.0.113.7");
    expect(error.message).toContain("Client address is not authorized");
    expect(error.message).not.toContain("\r");
  });

  it("ForbiddenByFirewall as reported verbatim (address redacted in the issue) has no clientAddress", async () => {
    const error = mapped(await secretsError(reportedCase("keyvault-data/errors-403.reported.json", "ForbiddenByFirewall")));
    expect(error.code).toBe("ForbiddenByFirewall");
    expect(error.details?.clientAddress).toBeUndefined();
  });

  it("ForbiddenByRbac and ForbiddenByConnection: inner codes, exit 5", async () => {
    const rbac = mapped(await secretsError(reportedCase("keyvault-data/errors-403.reported.json", "ForbiddenByRbac")));
    expect(rbac).toMatchObject({ code: "ForbiddenByRbac", exitCode: ExitCode.permission });
    expect(rbac.hint).toMatch(/10 minutes/);
    const connection = mapped(await secretsError(reportedCase("keyvault-data/errors-403.reported.json", "ForbiddenByConnection")));
    expect(connection).toMatchObject({ code: "ForbiddenByConnection", exitCode: ExitCode.permission });
  });

  it("SecretNotFound (recorded) is a not-found", async () => {
    const error = await secretsError(example("keyvault-data/secret-not-found-404.recorded.json"), "get");
    expect(isNotFoundError(error)).toBe(true);
    expect(mapped(error).code).toBe("SecretNotFound");
  });

  it("never carries the secret value or the token, even through the cause", async () => {
    const reported = reportedCase("keyvault-data/errors-403.reported.json", "ForbiddenByRbac");
    const raw = await secretsError(reported);
    const error = mapped(raw);
    const everything = [error.message, error.hint, JSON.stringify(error.details), inspect(error, { depth: 20 }), String(error.stack)].join("\n");
    expect(everything).not.toContain(SECRET_VALUE);
    expect(everything).not.toContain(FAKE_TOKEN);
  });
});

describe("Graph errors (GraphError from microsoft-graph-client 3)", () => {
  it("Request_ResourceNotFound during replication is a 404", async () => {
    const error = await graphError(reportedCase("graph/errors.reported.json", "Request_ResourceNotFound"));
    expect(isNotFoundError(error)).toBe(true);
    expect(mapped(error)).toMatchObject({ code: "Request_ResourceNotFound", exitCode: ExitCode.azure });
  });

  it("Request_BadRequest (service principal before the app replicated) keeps its code", async () => {
    const error = mapped(await graphError(reportedCase("graph/errors.reported.json", "Request_BadRequest")));
    expect(error).toMatchObject({ code: "Request_BadRequest", exitCode: ExitCode.azure });
    expect(error.details).toMatchObject({ status: 400, requestId: "00000000-0000-0000-0000-000000000000" });
  });

  it("Authorization_RequestDenied is exit 5", async () => {
    const error = mapped(
      await graphError({ status: 403, body: { error: { code: "Authorization_RequestDenied", message: "Insufficient privileges to complete the operation." } } }),
    );
    expect(error).toMatchObject({ code: "Authorization_RequestDenied", exitCode: ExitCode.permission });
    expect(error.hint).toMatch(/Application Developer/);
  });

  it("a fetch failure is a network error (exit 6)", async () => {
    const error = mapped(
      await graphError(() => {
        throw new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }) });
      }),
    );
    expect(error.exitCode).toBe(ExitCode.azure);
    expect(error.hint).toMatch(/network/);
  });
});

describe("Entra sign-in errors (AuthenticationError from @azure/identity)", () => {
  async function signInError(answer: CannedAnswer, secret = "wrong-secret-value-9d8c"): Promise<unknown> {
    const credential = new ClientSecretCredential(TENANT, "a8fdfbd0-da97-42d9-8f1a-fd6a7cb650b4", secret, {
      httpClient: cannedHttpClient(answer),
      ...noRetry,
    });
    return thrown(() => credential.getToken("https://management.azure.com/.default"));
  }

  it("AADSTS7000215 (bad secret) is exit 4 with the AADSTS code, and the secret is not in it", async () => {
    const raw = await signInError(example("entra/error-AADSTS7000215.reported.json"));
    const error = mapped(raw, "sign in");
    expect(error).toMatchObject({ code: "AADSTS7000215", exitCode: ExitCode.auth });
    expect(error.details).toMatchObject({ innerCode: "AADSTS7000215" });
    expect(error.hint).toMatch(/secret's value/);
    expect([error.message, inspect(error, { depth: 20 })].join()).not.toContain("wrong-secret-value-9d8c");
  });

  it("AADSTS700016 (unknown application) is exit 4", async () => {
    const error = mapped(await signInError(example("entra/error-AADSTS700016.reported.json")));
    expect(error).toMatchObject({ code: "AADSTS700016", exitCode: ExitCode.auth });
  });

  it("AADSTS700027 in an identity error message is picked out", () => {
    const raw = Object.assign(
      new Error(
        "invalid_client: Error(s): 700027 - Timestamp: 2026-12-03 - Description: AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found.]",
      ),
      { name: "AuthenticationRequiredError" },
    );
    expect(mapped(raw)).toMatchObject({ code: "AADSTS700027", exitCode: ExitCode.auth });
  });
});

describe("network, pass-through and scrubbing", () => {
  it("a RestError from a refused connection is exit 6", () => {
    const error = mapped(new RestError("connect ECONNREFUSED 127.0.0.1:443", { code: "ECONNREFUSED" }));
    expect(error).toMatchObject({ code: "ECONNREFUSED", exitCode: ExitCode.azure });
  });

  it("AkvErrors pass through; non-Azure errors stay bugs", () => {
    const akv = AkvError.usage("x");
    expect(toAkvError(akv, { operation: "x" })).toBe(akv);
    const bug = new TypeError("Cannot read properties of undefined (reading 'family')");
    expect(toAkvError(bug, { operation: "x" })).toBe(bug);
    expect(parseAzureError(bug)).toBeUndefined();
  });

  it("scrubs tokens, PEM, secrets and Authorization headers", () => {
    const text = [
      `authorization: Bearer ${FAKE_TOKEN}`,
      "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----",
      "client_secret=abc123&scope=x",
      `{"access_token":"${FAKE_TOKEN}"}`,
    ].join("\n");
    const clean = scrubSecrets(text);
    expect(clean).not.toContain(FAKE_TOKEN);
    expect(clean).not.toContain("MIIEv");
    expect(clean).not.toContain("abc123");
    expect(clean).toContain("scope=x");
  });
});
