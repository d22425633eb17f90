/**
 * One wording for a file that cannot be read or written, whatever the command: `cannot read WHAT FILE: REASON`,
 * with the reason in words (as `ls` or `cat` would say it), never a bare errno code or Node's `open '…'` suffix.
 */
import { OpenIrsaError } from './errors.js';
const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EEXIST: 'already exists',
  EINVAL: 'not a usable path',
};

/** The reason an fs call failed, in words; an unknown code is shown as the code. */
export function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== undefined) return REASONS[code] ?? code;
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** `cannot read WHAT FILE: REASON` (WHAT names the flag or the kind of file; empty for a plain argument). */
export function cannotRead(what: string, file: string, err: unknown): string {
  return `cannot read ${what ? `${what} ` : ''}${file}: ${fsReason(err)}`;
}

/** `cannot write WHAT FILE: REASON`. */
export function cannotWrite(what: string, file: string, err: unknown): string {
  return `cannot write ${what ? `${what} ` : ''}${file}: ${fsReason(err)}`;
}

/** A file a command was given could not be read: the message is already the one line to print. */
export class FileReadError extends OpenIrsaError {
  constructor(
    readonly what: string,
    readonly file: string,
    override readonly cause: unknown,
  ) {
    super('FileUnreadable', cannotRead(what, file, cause));
  }
  /** The same error, naming the flag the user wrote. */
  as(what: string): FileReadError {
    return new FileReadError(what, this.file, this.cause);
  }
}
