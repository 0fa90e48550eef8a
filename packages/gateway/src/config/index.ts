export type { GatewayConfig, GatewayConfigInput } from './types.js';
export type { ConfigProblem } from './check.js';
export { DEFAULT_SCANNER_USER_AGENTS, defaultGatewayConfig } from './defaults.js';
export { GATEWAY_EXAMPLE_FILE, GatewayConfigError, loadGatewayConfig, resolveGatewayConfig, type SourcePosition } from './load.js';
export { checkGatewayConfig, type CheckedGatewayConfig } from './validate.js';
export { optionPaths } from './schema.js';
