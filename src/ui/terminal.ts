/**
 * Decided once, here: whether we may prompt, and whether we may colour and animate. The environment is looked at
 * before the TTY facts, which the CLI answers lazily (asking loads Node's tty module).
 */
export interface TerminalFacts {
  stdinIsTTY: boolean;
  stderrIsTTY: boolean;
  env: Record<string, string | undefined>;
}

export function canPrompt(facts: TerminalFacts, nonInteractiveFlag: boolean): boolean {
  if (nonInteractiveFlag) return false;
  if (facts.env.CI && facts.env.CI !== "false" && facts.env.CI !== "0") return false;
  return facts.stdinIsTTY && facts.stderrIsTTY;
}

export function canColour(facts: TerminalFacts, noColourFlag: boolean): boolean {
  if (noColourFlag) return false;
  if (facts.env.NO_COLOR !== undefined && facts.env.NO_COLOR !== "") return false;
  if (facts.env.TERM === "dumb") return false;
  if (facts.env.FORCE_COLOR && facts.env.FORCE_COLOR !== "0") return true;
  return facts.stderrIsTTY;
}

export function canAnimate(facts: TerminalFacts, colour: boolean): boolean {
  return colour && facts.env.TERM !== "dumb" && facts.stderrIsTTY;
}
