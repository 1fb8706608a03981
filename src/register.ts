/**
 * `node --import mcp-otel/register app.js`: instruments a Node MCP server (or client) whose code
 * you cannot change. Before the app runs, it loads the MCP SDK copies the app itself resolves,
 * both entries of each dual package (ESM and CommonJS), and patches their `connect()`, so every
 * transport any Server or Client connects is wrapped by the same middleware as `instrument()`,
 * exporting through the OpenTelemetry pipeline configured by the OTEL_* environment variables.
 * No loader hooks: `--import` finishes (top-level await) before the app's first line, so the
 * classes are patched before anything can construct them.
 *
 * With no SDK to find, it writes one line to stderr and does nothing else.
 *
 * @example
 * // OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 node --import mcp-otel/register server.js
 */
import { reportWarning } from './diagnostics.js';
import { locateSdk, SDK_PACKAGE_NAMES } from './register/locate-sdk.js';

const location = locateSdk();
if (location.modules.length === 0) {
  reportWarning(
    `register: no MCP SDK (${SDK_PACKAGE_NAMES.join(', ')}) resolvable from ${location.from}; nothing is instrumented`,
  );
} else {
  // Loaded only now: with no SDK, none of the OpenTelemetry machinery is even imported.
  const { patchCommonJs, patchEsm } = await import('./register/patch-connect.js');
  patchCommonJs(location.modules);
  await patchEsm(location.modules);
}
