/**
 * The one error type the CLI shows to people. Everything an operator can act on is an AkvError with an
 * exit code and a hint; anything else reaching the top is a bug (exit 1).
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  precondition: 3,
  auth: 4,
  permission: 5,
  azure: 6,
  state: 7,
  cancelled: 130,
} as const;

export type ExitCodeName = keyof typeof ExitCode;
export type ExitCodeValue = (typeof ExitCode)[ExitCodeName];

export const exitCodeDescriptions: Record<ExitCodeValue, string> = {
  0: "success (including \"already done\")",
  1: "internal error (a bug; the message says where the debug log is)",
  2: "usage error, bad input, or missing input with prompts off",
  3: "precondition not met (an earlier step is not done; status --check on an unfinished setup)",
  4: "authentication failed",
  5: "permission denied",
  6: "Azure service or network error after retries",
  7: "local state or file error (corrupt, newer schema, locked by another run, other tenant; a workdir or output that cannot be written)",
  130: "cancelled (Ctrl-C or a declined confirmation; state saved)",
};

export interface AkvErrorOptions {
  /** What to do next, in one or two sentences. */
  hint?: string;
  /** A stable machine-readable code, e.g. "VaultNameNotValid". */
  code?: string;
  cause?: unknown;
  /** Extra fields for --json output (never secrets). */
  details?: Record<string, unknown>;
}

export class AkvError extends Error {
  readonly exitCode: ExitCodeValue;
  readonly hint: string | undefined;
  readonly code: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(exitCode: ExitCodeValue, message: string, options: AkvErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AkvError";
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.code = options.code;
    this.details = options.details;
  }

  static usage(message: string, options?: AkvErrorOptions): AkvError {
    return new AkvError(ExitCode.usage, message, options);
  }
  static precondition(message: string, options?: AkvErrorOptions): AkvError {
    return new AkvError(ExitCode.precondition, message, options);
  }
  static auth(message: string, options?: AkvErrorOptions): AkvError {
    return new AkvError(ExitCode.auth, message, options);
  }
  static permission(message: string, options?: AkvErrorOptions): AkvError {
    return new AkvError(ExitCode.permission, message, options);
  }
  static azure(message: string, options?: AkvErrorOptions): AkvError {
    return new AkvError(ExitCode.azure, message, options);
  }
  static state(message: string, options?: AkvErrorOptions): AkvError {
    return new AkvError(ExitCode.state, message, options);
  }
  static cancelled(message = "Cancelled.", options?: AkvErrorOptions): AkvError {
    return new AkvError(ExitCode.cancelled, message, options);
  }
}

export function isAkvError(error: unknown): error is AkvError {
  return error instanceof AkvError;
}
