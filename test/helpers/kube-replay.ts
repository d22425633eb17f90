/**
 * A local HTTP server that replays recorded kube-apiserver list/watch/get responses (real HTTP for the real
 * @kubernetes/client-node client). Each route answers from a queue of scripted responses; requests are recorded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const fixture = (name: string): string =>
  readFileSync(join(here, '../fixtures/kube-replay', name), 'utf8');

export type Scripted =
  | { status: number; body: string }
  /** A watch stream: these lines, then `end` (close the stream) or hold it open until the server stops. */
  | { watch: string[]; end: boolean };

export interface Recorded {
  path: string;
  query: URLSearchParams;
}

export class KubeReplay {
  readonly requests: Recorded[] = [];
  private readonly routes = new Map<string, Scripted[]>();
  private readonly open = new Set<ServerResponse>();
  private server: Server | undefined;
  url = '';

  /** Queue responses for `key` = `list <path>`, `watch <path>` or `get <path>`; the last one repeats. */
  on(key: string, ...responses: Scripted[]): this {
    this.routes.set(key, [...(this.routes.get(key) ?? []), ...responses]);
    return this;
  }

  count(pred: (r: Recorded) => boolean): number {
    return this.requests.filter(pred).length;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
    return this.url;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    this.requests.push({ path: u.pathname, query: u.searchParams });
    const kind =
      u.searchParams.get('watch') === 'true' ? 'watch' : u.pathname.split('/').length > 6 ? 'get' : 'list';
    const key = `${kind} ${u.pathname}`;
    const queue = this.routes.get(key);
    if (!queue || queue.length === 0) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(fixture('status-404.json'));
      return;
    }
    const next = queue.length > 1 ? queue.shift()! : queue[0]!;
    if ('status' in next) {
      res.writeHead(next.status, { 'Content-Type': 'application/json' });
      res.end(next.body);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    for (const line of next.watch) res.write(line.trim() + '\n');
    if (next.end) res.end();
    else {
      this.open.add(res);
      res.on('close', () => this.open.delete(res));
    }
  }

  async stop(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

export const lines = (name: string): string[] =>
  fixture(name)
    .split('\n')
    .filter((l) => l.trim() !== '');
