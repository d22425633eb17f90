/**
 * The IAM state on one machine: one JSON file beside the config, replaced atomically (write a temporary file,
 * fsync, rename over the old one, fsync the folder), so a crash leaves either the old or the new state, never half
 * of one. Writers in several processes (`sts serve --workers N`, a second `sts serve`) take a lock file and
 * re-read under it, so the per-entry version check is exact; every process watches the file for others' writes.
 */
import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  watch,
  writeSync,
  type FSWatcher,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname } from 'node:path';
import type { OverlayEntry } from './model.js';
import { ConflictError, type StateBackend, type StoredEntry } from './store.js';
import { OpenIrsaError, messageOf } from '../errors.js';

const FORMAT = 'openirsa.iam-state/v1';

export class StateFileError extends OpenIrsaError {
  constructor(
    readonly file: string,
    what: string,
  ) {
    super('IamStateFileInvalid', `${file}: ${what}`);
  }
}

interface FileContent {
  format: string;
  generation: number;
  entries: Record<string, StoredEntry>;
}

/** Parse a state file's text; throws StateFileError naming what is wrong. */
export function parseStateFile(file: string, text: string): FileContent {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new StateFileError(file, `not valid JSON: ${messageOf(err)}`);
  }
  const d = doc as Partial<FileContent> | null;
  if (!d || typeof d !== 'object' || d.format !== FORMAT)
    throw new StateFileError(file, `not an openirsa IAM state file (format must be "${FORMAT}")`);
  if (!Number.isInteger(d.generation) || typeof d.entries !== 'object' || d.entries === null)
    throw new StateFileError(file, 'generation and entries are required');
  for (const [k, v] of Object.entries(d.entries)) {
    const e = v as Partial<StoredEntry> | null;
    if (!e || typeof e.version !== 'string' || typeof e.entry !== 'object' || e.entry === null)
      throw new StateFileError(file, `entries["${k}"] must be {version, entry}`);
    if (`${e.entry.kind}/${e.entry.id}` !== k)
      throw new StateFileError(file, `entries["${k}"] holds ${e.entry.kind}/${e.entry.id}`);
  }
  return d as FileContent;
}

function readState(file: string): FileContent {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { format: FORMAT, generation: 0, entries: {} };
    throw new StateFileError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`);
  }
  return parseStateFile(file, text);
}

/** Replace `file` with `data` atomically and durably. */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    throw err;
  }
  try {
    const dir = openSync(dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // some filesystems cannot fsync a directory; the rename is still atomic
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock file holding the owner's pid; a lock whose owner died is taken over. */
async function withLock<T>(file: string, fn: () => T, timeoutMs = 10_000): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // The pid is written to a private file first and linked into place, so a lock is never seen empty: a writer
    // killed between creating the lock and writing its pid would otherwise leave a lock no one can take over.
    const claim = `${lock}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      const fd = openSync(claim, 'wx', 0o600);
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      linkSync(claim, lock);
      rmSync(claim, { force: true });
      break;
    } catch (err) {
      rmSync(claim, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(lock, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
        try {
          unlinkSync(lock);
        } catch {
          // another process took it over first
        }
        continue;
      }
      if (Date.now() > deadline)
        throw new StateFileError(file, `lock ${lock} held by process ${owner} for over ${timeoutMs} ms`);
      await sleep(10 + Math.random() * 20);
    }
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // nothing to release
    }
  }
}

export class FileBackend implements StateBackend {
  private map = new Map<string, StoredEntry>();
  private generation = 0;
  private watcher: FSWatcher | undefined;
  private onChange: (e: ReadonlyMap<string, StoredEntry>) => void = () => undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private reloadTimer: NodeJS.Timeout | undefined;
  private stamp = '';

  constructor(
    readonly file: string,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  get where(): string {
    return `file ${this.file}`;
  }

  private adopt(content: FileContent): void {
    if (content.generation === this.generation && this.map.size === Object.keys(content.entries).length)
      return;
    this.generation = content.generation;
    this.map = new Map(Object.entries(content.entries));
    this.onChange(this.map);
  }

  async start(onChange: (e: ReadonlyMap<string, StoredEntry>) => void): Promise<void> {
    this.onChange = onChange;
    const content = readState(this.file);
    this.generation = content.generation;
    this.map = new Map(Object.entries(content.entries));
    onChange(this.map);
    // Watch the folder (the file is replaced by rename, which a watch on the file itself would lose).
    const name = basename(this.file);
    this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.reloadTimer);
      this.reloadTimer = setTimeout(() => this.reload(), 20);
    });
    this.watcher.on('error', (err) => this.onError(err));
  }

  private reload(): void {
    try {
      this.adopt(readState(this.file));
    } catch (err) {
      this.onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** A stat per action: another process's write is seen at once, not only when the folder watch fires. */
  refresh(): void {
    let stamp = 'absent';
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      // no file yet
    }
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    this.reload();
  }

  entries(): ReadonlyMap<string, StoredEntry> {
    return this.map;
  }

  write(key: string, entry: OverlayEntry | undefined, expected: string | undefined): Promise<void> {
    const run = this.queue.then(() =>
      withLock(this.file, () => {
        const content = readState(this.file);
        const cur = content.entries[key];
        if (cur?.version !== expected) {
          this.adopt(content);
          throw new ConflictError(key, cur);
        }
        const generation = content.generation + 1;
        const entries = { ...content.entries };
        if (entry) entries[key] = { version: String(generation), entry };
        else delete entries[key];
        const next: FileContent = { format: FORMAT, generation, entries };
        writeFileAtomic(this.file, JSON.stringify(next, null, 1) + '\n');
        this.adopt(next);
      }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  async stop(): Promise<void> {
    clearTimeout(this.reloadTimer);
    this.watcher?.close();
  }
}
