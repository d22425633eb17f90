/**
 * Prometheus metrics with exactly the reference's names, labels and buckets (reference pkg/handler/middleware.go, pkg/cache/cache.go), in a registry
 * of their own (one per webhook instance, so tests and `openirsa dev` can run several) plus Node's process metrics.
 */
import client from 'prom-client';

export interface WebhookMetrics {
  registry: client.Registry;
  requestCount: client.Counter<'verb' | 'path' | 'code'>;
  /** Microseconds. */
  requestLatencies: client.Histogram<'verb' | 'path'>;
  /** Microseconds; the reference's Summary has no quantiles (only _sum and _count). */
  requestDuration: SumCountSummary;
  podCount: client.Counter<'method'>;
  missingSaCount: client.Counter<string>;
  used: client.Gauge<string>;
  /** Observe one instrumented request. */
  observe(verb: string, path: string, code: number, startNs: bigint): void;
}

/**
 * The reference's Summary has no quantiles (MaxAge 1h, no objectives), so it exposes only `_sum` and `_count`.
 * prom-client's Summary would still feed a t-digest on every observation; this keeps just the two numbers.
 */
export class SumCountSummary {
  readonly type = 'summary';
  readonly aggregator = 'sum';
  private readonly series = new Map<
    string,
    { labels: { verb: string; path: string }; sum: number; count: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  child(verb: string, path: string): { sum: number; count: number } {
    const k = `${verb} ${path}`;
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { labels: { verb, path }, sum: 0, count: 0 }));
    return s;
  }

  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: Array<{ metricName: string; labels: Record<string, string>; value: number }>;
  } {
    const values = [];
    for (const s of this.series.values()) {
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): WebhookMetrics {
  const registry = new client.Registry();
  if (options.defaultMetrics !== false) client.collectDefaultMetrics({ register: registry });
  const requestCount = new client.Counter({
    name: 'http_request_count',
    help: 'Counter of requests broken out for each verb, path, and response code.',
    labelNames: ['verb', 'path', 'code'] as const,
    registers: [registry],
  });
  const requestLatencies = new client.Histogram({
    name: 'http_request_latencies',
    help: 'Response latency distribution in microseconds for each verb and path',
    labelNames: ['verb', 'path'] as const,
    // Reference: prometheus.ExponentialBuckets(125000, 2.0, 7).
    buckets: client.exponentialBuckets(125000, 2, 7),
    registers: [registry],
  });
  const requestDuration = new SumCountSummary(
    'http_request_duration_microseconds',
    'Response latency summary in microseconds for each verb and path.',
  );
  registry.registerMetric(requestDuration as unknown as client.Metric);
  const podCount = new client.Counter({
    name: 'pod_identity_webhook_pod_count',
    help: 'Counter of pods mutated, by method',
    labelNames: ['method'] as const,
    registers: [registry],
  });
  const missingSaCount = new client.Counter({
    name: 'pod_identity_webhook_missing_sa_count',
    help: 'Counter of pods whose service account was not found in the cache',
    registers: [registry],
  });
  const used = new client.Gauge({
    name: 'pod_identity_webhook_used',
    help: 'Set to 1 once the webhook has cached a service account',
    // A `--workers` pool is used once any worker is.
    aggregator: 'max',
    registers: [registry],
  });
  // Label children cached per (verb, path, code): no label hashing on the request path.
  type Children = {
    count: client.Counter.Internal;
    latencies: client.Histogram.Internal<'verb' | 'path'>;
    duration: { sum: number; count: number };
  };
  const children = new Map<string, Children>();
  return {
    registry,
    requestCount,
    requestLatencies,
    requestDuration,
    podCount,
    missingSaCount,
    used,
    observe(verb, path, code, startNs) {
      const us = Number(process.hrtime.bigint() - startNs) / 1000;
      const k = `${verb} ${path} ${code}`;
      let c = children.get(k);
      if (!c) {
        c = {
          count: requestCount.labels(verb, path, String(code)),
          latencies: requestLatencies.labels(verb, path),
          duration: requestDuration.child(verb, path),
        };
        // Verbs come from clients: bound the cache so odd methods cannot grow it without limit.
        if (children.size < 1000) children.set(k, c);
      }
      c.count.inc();
      c.latencies.observe(us);
      c.duration.sum += us;
      c.duration.count++;
    },
  };
}
