/**
 * `node --require mcp-otel/register app.cjs`: the CommonJS flavour of `mcp-otel/register`
 * (src/register.ts), for apps that load the MCP SDK with require(). It runs synchronously, so
 * it patches only the SDK's CommonJS entries; an app that imports the SDK as ES modules needs
 * `--import mcp-otel/register`, which patches both.
 *
 * @example
 * // OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 node --require mcp-otel/register server.cjs
 */
import { reportWarning } from './diagnostics.js';
import { isEsModuleFile, locateSdk, SDK_PACKAGE_NAMES } from './register/locate-sdk.js';
import { patchCommonJs } from './register/patch-connect.js';

const location = locateSdk();
const commonJs = location.modules.filter((module) => module.format === 'cjs');
if (location.modules.length === 0) {
  reportWarning(
    `register: no MCP SDK (${SDK_PACKAGE_NAMES.join(', ')}) resolvable from ${location.from}; nothing is instrumented`,
  );
} else if (commonJs.length === 0) {
  reportWarning(
    `register: the MCP SDK resolvable from ${location.from} has no CommonJS entry; use node --import mcp-otel/register`,
  );
} else {
  patchCommonJs(commonJs);
  if (location.entry !== undefined && isEsModuleFile(location.entry)) {
    // Otherwise an ES module app would run uninstrumented without a word.
    reportWarning(
      `register: ${location.entry} is an ES module; --require patches only the SDK's CommonJS entry. Use node --import mcp-otel/register`,
    );
  }
}
