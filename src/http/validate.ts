// Request validation at the edge: ajv (JSON Schema 2020-12) compiled from the
// component schemas of api/openapi.json, the same document the tests check
// responses against. Invalid input -> 400 `invalid_request` with one detail
// per problem ({ path, message }).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RequestHandler } from 'express';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { shippedPaths } from '../config/paths.ts';
import { ApiError } from './errors.ts';

const Ajv2020 = Ajv2020Module as unknown as typeof Ajv2020Module.default;

type Json = Record<string, unknown>;

let cached: { spec: Json; ajv: InstanceType<typeof Ajv2020>; fns: Map<string, ValidateFunction> } | null = null;

function load() {
  if (cached) return cached;
  const spec = JSON.parse(readFileSync(join(shippedPaths.api, 'openapi.json'), 'utf8')) as Json;
  // verbose: errors carry their schema, so a pattern's description can say what is accepted
  const ajv = new Ajv2020({ strict: false, allErrors: true, verbose: true });
  ajv.addFormat('date-time', { validate: (s: string) => !Number.isNaN(Date.parse(s)) });
  ajv.addSchema({ $id: 'api', components: spec.components }, 'api');
  cached = { spec, ajv, fns: new Map() };
  return cached;
}

/** The OpenAPI document (parsed once). */
export function openApiSpec(): Json {
  return load().spec;
}

/** A validator for `#/components/schemas/<name>`. */
export function schemaValidator(name: string): ValidateFunction {
  const c = load();
  let fn = c.fns.get(name);
  if (!fn) {
    const schemas = (c.spec.components as { schemas: Json }).schemas;
    if (!(name in schemas)) throw new Error(`api/openapi.json has no schema "${name}"`);
    fn = c.ajv.compile({ $ref: `api#/components/schemas/${name}` });
    c.fns.set(name, fn);
  }
  return fn;
}

export function describeErrors(errors: ErrorObject[] | null | undefined, root: string): { path: string; message: string }[] {
  return (errors ?? []).slice(0, 20).map((e) => {
    const path = root + e.instancePath;
    let message = e.message ?? 'is invalid';
    const description = (e.parentSchema as { description?: unknown } | undefined)?.description;
    if (e.keyword === 'pattern' && typeof description === 'string') message = `must be ${description}`;
    if (e.keyword === 'additionalProperties') message = `has unknown field "${String((e.params as { additionalProperty?: string }).additionalProperty)}"`;
    if (e.keyword === 'enum' || e.keyword === 'const') message += ` (${JSON.stringify((e.params as { allowedValues?: unknown; allowedValue?: unknown }).allowedValues ?? (e.params as { allowedValue?: unknown }).allowedValue)})`;
    return { path, message };
  });
}

/** Validate a value against a component schema; throws 400 invalid_request naming the problems. */
export function validateAgainst<T>(name: string, value: unknown, root = 'body'): T {
  const fn = schemaValidator(name);
  if (!fn(value)) {
    const details = describeErrors(fn.errors, root);
    const first = details[0];
    throw new ApiError(400, 'invalid_request', first ? `${first.path} ${first.message}` : `${root} is invalid`, details);
  }
  return value as T;
}

/** Middleware: req.body must match the schema (the JSON parser must run first). */
export function validateBody(name: string): RequestHandler {
  return (req, _res, next) => {
    if (req.body === undefined) throw new ApiError(400, 'invalid_request', 'request body is missing (send JSON with Content-Type: application/json)');
    validateAgainst(name, req.body, 'body');
    next();
  };
}

/** Middleware: the query object must match the schema (all values are strings, or string arrays when repeated). */
export function validateQuery(name: string): RequestHandler {
  return (req, _res, next) => {
    validateAgainst(name, { ...req.query }, 'query');
    next();
  };
}
