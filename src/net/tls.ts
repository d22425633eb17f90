/**
 * TLS settings with the reference's Go names (reference main.go) mapped to OpenSSL's, and the serving
 * certificate loaded from --tls-cert/--tls-key and hot-reloaded when the files change. Shared by every HTTPS
 * server (webhook, STS, issuer, agent), so it lives below them.
 */
import { cannotRead } from '../file-errors.js';
import { createSecureContext, type SecureContextOptions, type SecureVersion } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Logger } from '../log.js';
import { OpenIrsaError, messageOf } from '../errors.js';

/** Go's tls.CipherSuites() and tls.InsecureCipherSuites() names → OpenSSL names. */
export const GO_CIPHER_SUITES: Readonly<Record<string, string>> = {
  // TLS 1.3 (Go always enables them; listing them is accepted).
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
  // Secure TLS 1.0-1.2.
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  // Legacy aliases Go still accepts.
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  // Insecure (accepted by the reference; OpenSSL may have compiled some out, which then fails at startup).
  TLS_RSA_WITH_RC4_128_SHA: 'RC4-SHA',
  TLS_RSA_WITH_3DES_EDE_CBC_SHA: 'DES-CBC3-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_RC4_128_SHA: 'ECDHE-ECDSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_RC4_128_SHA: 'ECDHE-RSA-RC4-SHA',
  TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA: 'ECDHE-RSA-DES-CBC3-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
};

const TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

export class TlsConfigError extends OpenIrsaError {
  constructor(message: string) {
    super('TlsConfigInvalid', message);
  }
}

/** The OpenSSL cipher string for Go suite names; undefined = Node's defaults. Unknown names fail like the reference. */
export function cipherString(goNames: readonly string[]): string | undefined {
  if (goNames.length === 0) return undefined;
  const names = goNames.map((n) => {
    const o = GO_CIPHER_SUITES[n];
    if (o === undefined)
      throw new TlsConfigError(`invalid tls-cipher-suites: unsupported cipher suite: ${n}`);
    return o;
  });
  // Go cannot restrict TLS 1.3 suites and always offers them; keep that.
  const tls12 = names.filter((n) => !n.startsWith('TLS_'));
  return [TLS13_SUITES, ...new Set(tls12)].join(':');
}

const MIN_VERSIONS: Readonly<Record<string, SecureVersion>> = {
  '1.0': 'TLSv1',
  '1.1': 'TLSv1.1',
  '1.2': 'TLSv1.2',
  '1.3': 'TLSv1.3',
  VersionTLS10: 'TLSv1',
  VersionTLS11: 'TLSv1.1',
  VersionTLS12: 'TLSv1.2',
  VersionTLS13: 'TLSv1.3',
};

/** --tls-min-version → Node's minVersion; "" → TLSv1.2 (Go's server default). */
export function minVersion(value: string): SecureVersion {
  if (value === '') return 'TLSv1.2';
  const v = MIN_VERSIONS[value];
  if (v === undefined)
    throw new TlsConfigError(`Invalid value for tls-min-version unsupported version ${value}`);
  return v;
}

export interface TlsSettings {
  certFile: string;
  keyFile: string;
  ciphers: string | undefined;
  minVersion: SecureVersion;
}

/** The options for tls.createServer / setSecureContext from PEM contents; throws when they do not form a pair. */
export function secureContextOptions(settings: TlsSettings, cert: Buffer, key: Buffer): SecureContextOptions {
  const options: SecureContextOptions = { cert, key, minVersion: settings.minVersion };
  if (settings.ciphers !== undefined) options.ciphers = settings.ciphers;
  // OpenSSL 3 refuses TLS 1.0/1.1 at its default security level; a user who asks for them gets them, as in Go.
  if (settings.minVersion === 'TLSv1' || settings.minVersion === 'TLSv1.1') {
    options.ciphers = `${options.ciphers ?? 'DEFAULT'}:@SECLEVEL=0`;
  }
  // Validate now (bad PEM, key not matching the cert) so a bad reload can be refused.
  createSecureContext(options);
  return options;
}

export async function loadKeyPair(
  settings: TlsSettings,
): Promise<{ cert: Buffer; key: Buffer; options: SecureContextOptions }> {
  const read = (what: string, file: string) =>
    readFile(file).catch((err: unknown) => {
      throw new TlsConfigError(cannotRead(what, file, err));
    });
  // Both read at once, but the certificate's failure is the one reported when both fail, whichever came first.
  const [certRead, keyRead] = await Promise.allSettled([
    read('--tls-cert', settings.certFile),
    read('--tls-key', settings.keyFile),
  ]);
  if (certRead.status === 'rejected') throw certRead.reason;
  if (keyRead.status === 'rejected') throw keyRead.reason;
  const cert = certRead.value;
  const key = keyRead.value;
  try {
    return { cert, key, options: secureContextOptions(settings, cert, key) };
  } catch (err) {
    // OpenSSL's message names the problem (e.g. "key values mismatch"), never the key material.
    throw new TlsConfigError(
      `invalid TLS certificate/key pair (${settings.certFile}, ${settings.keyFile}): ${messageOf(err)}`,
    );
  }
}

/**
 * Watches the cert and key files (their directories, so atomic renames and Kubernetes' `..data` symlink swaps are
 * seen) and calls `apply` with a new, validated context. A bad pair (e.g. the cert written before its key) is
 * logged and ignored: the previous certificate keeps being served, and the next change is tried again.
 */
export class CertificateReloader {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private current: { cert: Buffer; key: Buffer };
  private reloading = false;
  private again = false;
  reloads = 0;

  constructor(
    private readonly settings: TlsSettings,
    initial: { cert: Buffer; key: Buffer },
    private readonly apply: (options: SecureContextOptions) => void,
    private readonly logger: Logger,
    private readonly debounceMs = 50,
    pollMs = 10_000,
  ) {
    this.current = { cert: initial.cert, key: initial.key };
    const dirs = new Set([dirname(resolve(settings.certFile)), dirname(resolve(settings.keyFile))]);
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => this.schedule());
        w.on('error', (err) =>
          this.logger.warn(
            { err: err.message, dir },
            'TLS certificate directory watch failed; falling back to polling',
          ),
        );
        this.watchers.push(w);
      } catch (err) {
        this.logger.warn(
          { err: messageOf(err), dir },
          'cannot watch the TLS certificate directory; polling only',
        );
      }
    }
    // A safety net for missed events (network filesystems, editors that replace directories).
    this.poll = setInterval(() => this.schedule(), pollMs);
    this.poll.unref();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload();
    }, this.debounceMs);
    this.timer.unref();
  }

  /** Re-read both files; apply them when they changed and form a valid pair. */
  async reload(): Promise<boolean> {
    if (this.reloading) {
      this.again = true;
      return false;
    }
    this.reloading = true;
    try {
      let cert: Buffer;
      let key: Buffer;
      try {
        [cert, key] = await Promise.all([readFile(this.settings.certFile), readFile(this.settings.keyFile)]);
      } catch (err) {
        this.logger.warn(
          { err: messageOf(err) },
          'TLS certificate reload: cannot read the files; keeping the current certificate',
        );
        return false;
      }
      if (cert.equals(this.current.cert) && key.equals(this.current.key)) return false;
      let options: SecureContextOptions;
      try {
        options = secureContextOptions(this.settings, cert, key);
      } catch (err) {
        this.logger.warn(
          { err: messageOf(err) },
          'TLS certificate reload: invalid certificate/key pair; keeping the current certificate',
        );
        return false;
      }
      this.apply(options);
      this.current = { cert, key };
      this.reloads++;
      this.logger.info({ certFile: this.settings.certFile }, 'TLS certificate reloaded');
      return true;
    } finally {
      this.reloading = false;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    }
  }

  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.timer) clearTimeout(this.timer);
    if (this.poll) clearInterval(this.poll);
    this.timer = this.poll = undefined;
  }
}
