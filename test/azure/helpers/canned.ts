/**
 * Canned HTTP answers for the real SDK clients, so they build their errors exactly as they do against Azure.
 * This replaces the network under the SDK (its documented `httpClient` / Graph middleware hook), not errors.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { createHttpHeaders, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";

export const EXAMPLES = "/work/shared/azure-examples";

export interface CannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface ReportedCase extends CannedAnswer {
  case: string;
}

export function example<T = CannedAnswer>(relativePath: string): T {
  return JSON.parse(readFileSync(join(EXAMPLES, relativePath), "utf8")) as T;
}

export function reportedCase(relativePath: string, startsWith: string): ReportedCase {
  const file = example<{ cases: ReportedCase[] }>(relativePath);
  const found = file.cases.find((c) => c.case.startsWith(startsWith));
  if (!found) throw new Error(`no case "${startsWith}" in ${relativePath}`);
  return found;
}

/** An HttpClient that answers every request with `answer` and remembers what it was sent. */
export function cannedHttpClient(answer: CannedAnswer): HttpClient & { requests: PipelineRequest[] } {
  const requests: PipelineRequest[] = [];
  return {
    requests,
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      requests.push(request);
      const headers = createHttpHeaders({ "content-type": "application/json; charset=utf-8", ...(answer.headers ?? {}) });
      const response: PipelineResponse = { request, status: answer.status, headers };
      if (answer.body !== undefined) response.bodyAsText = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
      return response;
    },
  };
}

export const FAKE_TOKEN =
  "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJ0aWQiOiIxMTExMTExMS0xMTExLTExMTEtMTExMS0xMTExMTExMTExMTEiLCJvaWQiOiIyMjIyIn0.c2lnbmF0dXJlLXNlY3JldA";

/** A credential that always has a token (the canned transport never checks it). */
export const staticCredential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    return { token: FAKE_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};

/** Graph middleware that answers with `answer` (the Graph client's own error handling then runs). */
export function cannedGraphMiddleware(answer: CannedAnswer | (() => never)): { execute(context: { response?: Response }): Promise<void> } {
  return {
    async execute(context) {
      if (typeof answer === "function") answer();
      else {
        context.response = new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
          status: answer.status,
          headers: { "content-type": "application/json", ...(answer.headers ?? {}) },
        });
      }
    },
  };
}
