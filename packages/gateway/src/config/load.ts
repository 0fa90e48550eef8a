import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument, type YAMLError } from 'yaml';
import type { ConfigProblem } from './check.js';
import type { GatewayConfig } from './types.js';
import { checkGatewayConfig } from './validate.js';

/** The commented example configuration users copy to start a gateway.yaml. */
export const GATEWAY_EXAMPLE_FILE = fileURLToPath(new URL('../../gateway.example.yaml', import.meta.url));

/** Where a YAML syntax error is, 1-based. */
export interface SourcePosition {
  line: number;
  column: number;
}

/**
 * A configuration that cannot be used. The message names the file, the option and the fix, one
 * line per problem; every problem found is reported, not only the first.
 */
export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError';
  /** The first problem's option as a dotted path (`pbx.port`, `security.accessList[2].cidr`); '' when the file as a whole is at fault. */
  readonly field: string;
  readonly problems: readonly ConfigProblem[];
  /** For a YAML syntax error: where it is. */
  readonly position?: SourcePosition;

  /** @param source what the configuration came from, as the person knows it (the file name) */
  constructor(
    readonly source: string,
    problems: ConfigProblem[],
    position?: SourcePosition,
  ) {
    super(describeProblems(source, problems));
    this.problems = problems;
    this.field = problems[0]?.field ?? '';
    if (position) this.position = position;
  }
}

function describeProblems(source: string, problems: ConfigProblem[]): string {
  const line = (problem: ConfigProblem): string => (problem.field === '' ? problem.message : `${problem.field}: ${problem.message}`);
  if (problems.length === 1) return `${source}: ${line(problems[0])}`;
  return `${source}: ${problems.length} problems:\n${problems.map((problem) => `  - ${line(problem)}`).join('\n')}`;
}

/**
 * Reads, checks and completes a gateway.yaml. Relative paths in it (the certificate files) are
 * taken from the file's own directory. Throws GatewayConfigError for a missing or unreadable
 * file, a YAML syntax error (with line and column) or invalid options.
 */
export function loadGatewayConfig(file: string): GatewayConfig {
  const path = resolve(file);
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    throw new GatewayConfigError(file, [{ field: '', message: unreadableFile(path, error) }]);
  }
  const document = parseDocument(source, { prettyErrors: true });
  const syntaxError = document.errors[0];
  if (syntaxError) throw syntaxErrorOf(file, syntaxError);
  return resolveGatewayConfig(document.toJS(), dirname(path), file);
}

/**
 * Checks and completes a configuration that is already an object (the lab builds its own in code).
 * Relative paths are taken from `baseDir`; `source` names the configuration in error messages.
 */
export function resolveGatewayConfig(input: unknown, baseDir: string, source = 'gateway configuration'): GatewayConfig {
  const { config, problems } = checkGatewayConfig(input, resolve(baseDir));
  if (problems.length > 0) throw new GatewayConfigError(source, problems);
  return config;
}

function unreadableFile(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return `no such file (${path}). Create it from the commented example, then set pbx.account and pbx.secret: cp ${GATEWAY_EXAMPLE_FILE} ${path}`;
  }
  if (code === 'EISDIR') return `${path} is a directory: give the path of the YAML file, e.g. ${path}/gateway.yaml`;
  if (code === 'EACCES' || code === 'EPERM') return `cannot read ${path}: permission denied (check its owner and mode)`;
  return `cannot read ${path}: ${(error as Error).message}`;
}

/** What to do about the YAML mistakes people make most. */
const SYNTAX_HINTS: Readonly<Record<string, string>> = {
  TAB_AS_INDENT: 'indent with spaces, not tabs',
  DUPLICATE_KEY: 'each option may appear only once in its section: remove one of them',
  MULTIPLE_DOCS: 'keep every option in one document: remove the "---" line',
  BLOCK_AS_IMPLICIT_KEY: 'put each option on its own line, indented under its section',
  MULTILINE_IMPLICIT_KEY: 'put each option on its own line as "name: value"',
  MISSING_CHAR: 'a quote or bracket opened before this point is never closed',
};

function syntaxErrorOf(file: string, error: YAMLError): GatewayConfigError {
  const start = error.linePos?.[0];
  // yaml's message is "<reason> at line L, column C:\n\n<excerpt>"; the position goes in front instead.
  const [reason, excerpt = ''] = error.message.split(/ at line \d+, column \d+:\n/);
  const hint = SYNTAX_HINTS[error.code];
  const where = start ? `line ${start.line}, column ${start.col}: ` : '';
  const message = `${where}YAML syntax error: ${reason}${hint ? ` (${hint})` : ''}${excerpt.trimEnd() === '' ? '' : `\n${excerpt.trimEnd()}`}`;
  return new GatewayConfigError(file, [{ field: '', message }], start ? { line: start.line, column: start.col } : undefined);
}
