/**
 * The backend set-ups shipped with the examples cannot be executed here (no Docker, no network),
 * so this pins what the guides rely on: the ports, and variables the demo and SDK understand.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseOtlpHeaders } from '../../examples/demo/otlp-json-receiver.js';
import { examplePath } from './helpers.js';

describe('examples/jaeger/docker-compose.yml', () => {
  it('runs Jaeger all-in-one with OTLP/HTTP on 4318 and the UI on 16686', () => {
    const compose = readFileSync(examplePath('jaeger/docker-compose.yml'), 'utf8');
    expect(compose).toMatch(/^\s+image: jaegertracing\/all-in-one:[\w.]+$/m);
    expect(compose).toMatch(/^\s+COLLECTOR_OTLP_ENABLED: 'true'$/m);
    expect(compose).toMatch(/^\s+- '4318:4318'/m);
    expect(compose).toMatch(/^\s+- '16686:16686'/m);
  });
});

describe('examples/honeycomb/.env.example', () => {
  it('sets the endpoint, the team header and a service name, nothing else', () => {
    const lines = readFileSync(examplePath('honeycomb/.env.example'), 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'));
    const env = Object.fromEntries(lines.map((line) => line.split(/=(.*)/s).slice(0, 2)));
    expect(Object.keys(env).sort()).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_EXPORTER_OTLP_HEADERS',
      'OTEL_SERVICE_NAME',
    ]);
    expect(env.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('https://api.honeycomb.io');
    expect(parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS)).toEqual({
      'x-honeycomb-team': 'YOUR_API_KEY',
    });
    expect(env.OTEL_SERVICE_NAME).toMatch(/^[\w.-]+$/);
  });
});
