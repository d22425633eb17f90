/**
 * ConfigMap mode (`--watch-config-map`, reference pkg/cache/cache.go): the `config` key of ConfigMap
 * `<--namespace>/pod-identity-webhook` maps `"<ns|*>/<sa>"` to `{RoleARN, Audience, UseRegionalSTS, TokenExpiration}`.
 */
import { CONFIG_MAP_KEY, CONFIG_MAP_NAME } from './constants.js';
import { goIntOf, INT64_RANGE, isJsonNumber, isJsonObject, parseGoJson } from './go/number.js';
import type { ConfigMapEntries, IdentityCache } from './cache.js';
import type { ServiceAccountSettings } from './types.js';
import type { Logger } from '../log.js';
import { OpenIrsaError, messageOf } from '../errors.js';

export class ConfigMapParseError extends OpenIrsaError {
  constructor(message: string) {
    super('ConfigMapInvalid', message);
  }
}

export interface ParsedConfigMap {
  entries: ConfigMapEntries;
  /** Keys that were skipped (no `/`, or a null entry), with the reason. */
  rejected: Array<{ key: string; reason: string }>;
}

/** Go's encoding/json matches field names case-insensitively; unknown fields are ignored. */
function field(obj: Record<string, unknown>, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  let found: unknown;
  for (const [k, v] of Object.entries(obj)) if (k.toLowerCase() === lower) found = v;
  return found;
}

/** Parse the `config` string. Throws ConfigMapParseError when Go's json.Unmarshal would fail (the cache is then kept). */
export function parseConfigMapConfig(config: string): ParsedConfigMap {
  let raw: unknown;
  try {
    raw = parseGoJson(config);
  } catch (err) {
    throw new ConfigMapParseError(`invalid JSON in ConfigMap key "${CONFIG_MAP_KEY}": ${messageOf(err)}`);
  }
  if (raw === null) return { entries: new Map(), rejected: [] };
  if (!isJsonObject(raw)) {
    throw new ConfigMapParseError(
      `ConfigMap key "${CONFIG_MAP_KEY}" must hold a JSON object of "<namespace>/<serviceaccount>" entries`,
    );
  }
  const entries: ConfigMapEntries = new Map();
  const rejected: ParsedConfigMap['rejected'] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (value === null) {
      rejected.push({ key, reason: 'entry is null' });
      continue;
    }
    if (!isJsonObject(value)) {
      throw new ConfigMapParseError(`ConfigMap entry "${key}" must be an object`);
    }
    const v = value;
    const str = (name: string): string => {
      const x = field(v, name);
      if (x === undefined || x === null) return '';
      if (typeof x !== 'string')
        throw new ConfigMapParseError(`ConfigMap entry "${key}": ${name} must be a string`);
      return x;
    };
    const roleArn = str('RoleARN');
    const audience = str('Audience');
    const sts = field(v, 'UseRegionalSTS');
    if (sts !== undefined && sts !== null && typeof sts !== 'boolean') {
      throw new ConfigMapParseError(`ConfigMap entry "${key}": UseRegionalSTS must be a boolean`);
    }
    // An int64 in Go: its exact text is parsed, the whole int64 range accepted.
    const exp = field(v, 'TokenExpiration');
    const expiration = isJsonNumber(exp) ? goIntOf(exp, INT64_RANGE) : undefined;
    if (exp !== undefined && exp !== null && expiration === undefined) {
      throw new ConfigMapParseError(`ConfigMap entry "${key}": TokenExpiration must be a 64-bit integer`);
    }
    const parts = key.split('/');
    if (parts.length < 2) {
      // The reference panics on such a key; openirsa skips it and says so.
      rejected.push({ key, reason: 'key must be "<namespace>/<serviceaccount>" (or "*/<serviceaccount>")' });
      continue;
    }
    const settings: ServiceAccountSettings = {
      roleArn,
      audience,
      useRegionalSts: sts === true,
      tokenExpiration: expiration ?? 0n,
    };
    entries.set(`${parts[0]}/${parts[1]}`, settings);
  }
  return { entries, rejected };
}

/**
 * Feeds the cache from ConfigMap events. Invalid configs are logged and leave the cache unchanged; deleting the
 * ConfigMap leaves the entries in place, as in the reference.
 */
export class ConfigMapHandler {
  constructor(
    private readonly cache: IdentityCache,
    private readonly logger: Logger,
  ) {}

  /** Add/update/relist of the ConfigMap object (any other name is ignored). */
  upsert(obj: unknown): void {
    const o = obj as {
      metadata?: { name?: string; namespace?: string };
      data?: Record<string, string>;
    } | null;
    if (!o || o.metadata?.name !== CONFIG_MAP_NAME) return;
    const config = o.data?.[CONFIG_MAP_KEY];
    if (config === undefined) {
      this.logger.warn(
        { configMap: CONFIG_MAP_NAME },
        `ConfigMap has no "${CONFIG_MAP_KEY}" key; ignoring it`,
      );
      return;
    }
    let parsed: ParsedConfigMap;
    try {
      parsed = parseConfigMapConfig(config);
    } catch (err) {
      this.logger.error(
        { configMap: CONFIG_MAP_NAME, err: messageOf(err) },
        'invalid ConfigMap config; keeping the previous entries',
      );
      return;
    }
    for (const r of parsed.rejected) {
      this.logger.error(
        { configMap: CONFIG_MAP_NAME, key: r.key, reason: r.reason },
        'ConfigMap entry rejected',
      );
    }
    this.cache.setConfigMapEntries(parsed.entries);
    this.logger.info(
      { configMap: CONFIG_MAP_NAME, entries: parsed.entries.size },
      'ConfigMap entries loaded',
    );
  }

  /** The reference has no delete handler: the entries stay. */
  remove(): void {
    this.logger.warn(
      { configMap: CONFIG_MAP_NAME },
      'ConfigMap deleted; its entries stay cached (as in the reference)',
    );
  }
}
