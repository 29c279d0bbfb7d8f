import { describe, expect, it } from "vitest";
import { allowsAction, missingActions } from "../../src/ops/permissions.js";

const set = (actions: string[], notActions: string[] = []) => ({ actions, notActions, dataActions: [], notDataActions: [] });
const WRITE = "Microsoft.Authorization/roleAssignments/write";

describe("allowsAction", () => {
  it("reads wildcards case-insensitively and subtracts notActions within the same role", () => {
    expect(allowsAction([set(["*"])], WRITE)).toBe(true);
    expect(allowsAction([set(["microsoft.authorization/*"])], WRITE)).toBe(true);
    expect(allowsAction([set(["*/read"])], WRITE)).toBe(false);
    // Contributor: everything except Microsoft.Authorization writes.
    expect(allowsAction([set(["*"], ["Microsoft.Authorization/*/Write", "Microsoft.Authorization/*/Delete"])], WRITE)).toBe(false);
    // ... unless another role (User Access Administrator) grants it.
    expect(allowsAction([set(["*"], ["Microsoft.Authorization/*/Write"]), set(["*/read", "Microsoft.Authorization/*"])], WRITE)).toBe(true);
    expect(missingActions([set(["*/read"])], [WRITE, "Microsoft.KeyVault/vaults/read"])).toEqual([WRITE]);
  });
});
