import { describe, expect, it } from "vitest";
import { AkvError, ExitCode } from "../../src/errors.js";
import {
  AZURE_CHINA_CLOUD,
  AZURE_CLOUD,
  AZURE_US_GOVERNMENT,
  CLOUD_PRESETS,
  cloudByName,
  cloudFromSandbox,
  customCloud,
  graphCustomHosts,
} from "../../src/azure/cloud.js";

describe("cloud presets", () => {
  it("public cloud has the real endpoints and audiences", () => {
    expect(AZURE_CLOUD).toMatchObject({
      name: "AzureCloud",
      authorityHost: "https://login.microsoftonline.com",
      armEndpoint: "https://management.azure.com",
      armAudience: "https://management.azure.com",
      graphEndpoint: "https://graph.microsoft.com",
      keyVaultDnsSuffix: ".vault.azure.net",
      keyVaultAudience: "https://vault.azure.net",
    });
  });

  it("national clouds have their own hosts", () => {
    expect(AZURE_US_GOVERNMENT).toMatchObject({
      authorityHost: "https://login.microsoftonline.us",
      armEndpoint: "https://management.usgovcloudapi.net",
      graphEndpoint: "https://graph.microsoft.us",
      keyVaultDnsSuffix: ".vault.usgovcloudapi.net",
      keyVaultAudience: "https://vault.usgovcloudapi.net",
    });
    expect(AZURE_CHINA_CLOUD).toMatchObject({
      authorityHost: "https://login.chinacloudapi.cn",
      armEndpoint: "https://management.chinacloudapi.cn",
      graphEndpoint: "https://microsoftgraph.chinacloudapi.cn",
      keyVaultDnsSuffix: ".vault.azure.cn",
      keyVaultAudience: "https://vault.azure.cn",
    });
  });

  it("public clouds never turn off instance discovery or challenge verification, and need no Graph customHosts", () => {
    for (const cloud of Object.values(CLOUD_PRESETS)) {
      expect(cloud.disableInstanceDiscovery).toBe(false);
      expect(cloud.disableChallengeResourceVerification).toBe(false);
      expect(cloud.caPem).toBeUndefined();
      expect(graphCustomHosts(cloud)).toBeUndefined();
      for (const url of [cloud.authorityHost, cloud.armEndpoint, cloud.graphEndpoint, cloud.keyVaultAudience]) {
        expect(url).toMatch(/^https:\/\/[^/]+$/);
      }
    }
  });

  it("cloudByName is case-insensitive and lists the names when unknown", () => {
    expect(cloudByName("azureusgovernment")).toBe(AZURE_US_GOVERNMENT);
    let error: unknown;
    try {
      cloudByName("AzureGermanCloud");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AkvError);
    expect((error as AkvError).exitCode).toBe(ExitCode.usage);
    expect((error as AkvError).hint).toContain("AzureCloud, AzureUSGovernment, AzureChinaCloud");
  });
});

describe("custom clouds", () => {
  it("strip trailing slashes and /v1.0, default the ARM audience, and turn off the public-only checks", () => {
    const cloud = customCloud({
      authorityHost: "https://login.local:8443/",
      armEndpoint: "https://arm.local:8444/",
      graphEndpoint: "https://graph.local:8445/v1.0/",
      keyVaultAudience: "https://vault.local",
    });
    expect(cloud).toEqual({
      name: "custom",
      authorityHost: "https://login.local:8443",
      armEndpoint: "https://arm.local:8444",
      armAudience: "https://arm.local:8444",
      graphEndpoint: "https://graph.local:8445",
      keyVaultDnsSuffix: ".vault.local",
      keyVaultAudience: "https://vault.local",
      disableInstanceDiscovery: true,
      disableChallengeResourceVerification: true,
    });
    expect(graphCustomHosts(cloud)).toEqual(new Set(["graph.local"]));
  });

  it("refuse plain http (the SDKs would throw later, less clearly)", () => {
    expect(() =>
      customCloud({ authorityHost: "http://login.local", armEndpoint: "https://a", graphEndpoint: "https://g", keyVaultAudience: "https://v" }),
    ).toThrow(/must use https/);
  });

  it("cloudFromSandbox: ARM audience = ARM endpoint, Graph host without port, the CA kept", () => {
    const cloud = cloudFromSandbox(
      {
        authorityHost: "https://localhost:47001",
        armEndpoint: "https://localhost:47002",
        graphEndpoint: "https://localhost:47003",
        keyVaultAudience: "https://vault.localhost",
        caCertPath: "/tmp/ca.pem",
      },
      "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----",
    );
    expect(cloud).toMatchObject({
      name: "custom",
      armAudience: "https://localhost:47002",
      disableInstanceDiscovery: true,
      disableChallengeResourceVerification: true,
    });
    expect(cloud.caPem).toContain("BEGIN CERTIFICATE");
    expect(graphCustomHosts(cloud)).toEqual(new Set(["localhost"]));
  });
});
