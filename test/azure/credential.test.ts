/** Operator sign-in failures name the fix; token claims tell who signed in. */
import { describe, expect, it } from "vitest";
import { AkvError, ExitCode } from "../../src/errors.js";
import { AZURE_US_GOVERNMENT } from "../../src/azure/cloud.js";
import { createOperatorCredential, decodeTokenClaims, envSignIn } from "../../src/azure/credential.js";
import { principalFromClaims } from "../../src/azure/index.js";

const TENANT = "11111111-1111-1111-1111-111111111111";

async function signInFailure(run: () => Promise<unknown>): Promise<AkvError> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AkvError);
  return error as AkvError;
}

function jwt(claims: Record<string, unknown>): string {
  return `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;
}

describe("operator credential", () => {
  it("cli without a usable Azure CLI: exit 4 and the az command for this cloud and tenant", async () => {
    const credential = createOperatorCredential({ auth: "cli", cloud: AZURE_US_GOVERNMENT, tenantId: TENANT, env: {}, canPrompt: false });
    const error = await signInFailure(async () => credential.getToken("https://management.usgovcloudapi.net/.default"));
    expect(error.exitCode).toBe(ExitCode.auth);
    expect(error.hint).toContain(`az cloud set --name AzureUSGovernment && az login --tenant ${TENANT}`);
    expect(credential.authMethod).toBe("cli");
  });

  it("auto with nothing to use (no az, no AZURE_*, no prompting): exit 4 naming both ways in", async () => {
    const credential = createOperatorCredential({ auth: "auto", cloud: AZURE_US_GOVERNMENT, env: {}, canPrompt: false });
    const error = await signInFailure(async () => credential.getToken("https://management.usgovcloudapi.net/.default"));
    expect(error.exitCode).toBe(ExitCode.auth);
    expect(error.hint).toMatch(/az login/);
    expect(error.hint).toMatch(/AZURE_CLIENT_ID/);
  });

  it("envSignIn reads the standard variables from the env object it is given", () => {
    expect(envSignIn({ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "c", AZURE_CLIENT_SECRET: "s" })).toMatchObject({ kind: "client secret", tenantId: TENANT });
    expect(envSignIn({ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: "c", AZURE_CLIENT_CERTIFICATE_PATH: "/x.pem" })).toMatchObject({ kind: "client certificate", certificatePath: "/x.pem" });
    expect(envSignIn({ AZURE_CLIENT_ID: "c" }, TENANT)).toEqual({ missing: ["AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH"] });
  });
});

describe("token claims", () => {
  it("decodes a JWT payload and ignores opaque tokens", () => {
    expect(decodeTokenClaims(jwt({ tid: TENANT, oid: "o" }))).toEqual({ tid: TENANT, oid: "o" });
    expect(decodeTokenClaims("opaque")).toBeUndefined();
  });

  it("tells users from service principals", () => {
    expect(principalFromClaims({ oid: "u1", idtyp: "user", upn: "ops@contoso.com", appid: "04b07795-8ddb-461a-bbee-02f9e1bf7b46" })).toEqual({
      principalObjectId: "u1",
      principalType: "User",
      principalName: "ops@contoso.com",
    });
    expect(principalFromClaims({ oid: "s1", idtyp: "app", appid: "a1", app_displayname: "ci-deployer" })).toEqual({
      principalObjectId: "s1",
      principalType: "ServicePrincipal",
      principalName: "ci-deployer",
    });
    expect(principalFromClaims({ oid: "s2", appid: "a2" }).principalType).toBe("ServicePrincipal");
    expect(() => principalFromClaims({ tid: TENANT })).toThrow(AkvError);
  });
});
