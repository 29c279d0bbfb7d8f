import type { PermissionSet } from "../azure/services.js";

/** ARM action patterns are case-insensitive and may end in `*` (e.g. "Microsoft.Authorization/*"). */
function matches(pattern: string, action: string): boolean {
  const p = pattern.toLowerCase();
  const a = action.toLowerCase();
  if (p === "*" || p === a) return true;
  if (!p.includes("*")) return false;
  const re = new RegExp(`^${p.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join(".*")}$`);
  return re.test(a);
}

/**
 * Whether the permissions read from `Microsoft.Authorization/permissions` allow a control-plane action: some set
 * grants it and that same set does not exclude it (notActions subtract within their own role, as ARM evaluates them).
 */
export function allowsAction(sets: readonly PermissionSet[], action: string): boolean {
  return sets.some((set) => set.actions.some((p) => matches(p, action)) && !set.notActions.some((p) => matches(p, action)));
}

/** The actions of `wanted` that none of the sets allows. */
export function missingActions(sets: readonly PermissionSet[], wanted: readonly string[]): string[] {
  return wanted.filter((action) => !allowsAction(sets, action));
}
