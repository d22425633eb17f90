/**
 * Watch one file for changes through its parent directory (the reference's pkg/filesystem approach): atomic
 * renames, deletes, re-creates and Kubernetes' `..data` symlink swaps are all seen. Callers compare content, so a
 * spurious event costs one small read. Events are debounced; a slow poll covers missed events.
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';

export class FileWatcher {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;

  constructor(
    readonly path: string,
    private readonly onChange: () => Promise<void>,
    private readonly logger: Logger,
    private readonly debounceMs = 50,
    pollMs = 10_000,
  ) {
    const dir = dirname(path);
    // Throws when the directory does not exist: the caller reports it at startup.
    // Any entry of the directory may matter (`..data` symlink swaps rename other entries than ours): reload on
    // every event; the callers compare content, so a spurious event costs one small read.
    this.watcher = watch(dir, { persistent: false }, () => this.schedule());
    this.watcher.on('error', (err) =>
      this.logger.warn({ err: err.message, path }, 'file watch failed; polling only'),
    );
    this.poll = setInterval(() => this.schedule(), pollMs);
    this.poll.unref();
  }

  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, this.debounceMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      await this.onChange();
    } catch (err) {
      this.logger.warn({ err: messageOf(err), path: this.path }, 'reload failed');
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
    this.timer = this.poll = undefined;
  }
}
