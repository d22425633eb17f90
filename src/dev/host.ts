/**
 * What `openirsa dev --host ADDR` means for the URLs it prints and the names its certificate holds. Pure: the
 * machine's name and addresses are passed in.
 */
import { isIP } from 'node:net';
import type { ServerNames } from './state.js';

export interface HostPlan extends ServerNames {
  /** The host part of every URL dev prints and writes (the issuer URL inside tokens too). */
  urlHost: string;
}

// Where localhost answers; another 127.x address is bound alone, so it is named as it is.
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '0:0:0:0:0:0:0:1']);
const isLoopback = (h: string): boolean => LOOPBACK.has(h.toLowerCase());
const WILDCARD = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

/**
 * Loopback: everything on localhost, as before. A specific address or name: the URLs use it (the listeners are
 * bound to it alone, so localhost would not answer) and the certificate names it. All interfaces (0.0.0.0, ::):
 * the URLs stay on localhost, and the certificate also names this machine and its addresses, so another machine
 * can reach the same listeners by them.
 */
export function planHost(host: string, machine: { hostname: string; addresses: string[] }): HostPlan {
  const dnsNames = ['localhost'];
  const ipAddresses = ['127.0.0.1', '::1'];
  const add = (list: string[], v: string): void => {
    if (!list.includes(v)) list.push(v);
  };
  if (isLoopback(host)) return { urlHost: 'localhost', dnsNames, ipAddresses };
  if (WILDCARD.has(host)) {
    if (machine.hostname && !isIP(machine.hostname)) add(dnsNames, machine.hostname.toLowerCase());
    for (const a of machine.addresses) if (isIP(a)) add(ipAddresses, a);
    return { urlHost: 'localhost', dnsNames, ipAddresses };
  }
  if (isIP(host)) {
    add(ipAddresses, host);
    return { urlHost: isIP(host) === 6 ? `[${host}]` : host, dnsNames, ipAddresses };
  }
  add(dnsNames, host.toLowerCase());
  return { urlHost: host.toLowerCase(), dnsNames, ipAddresses };
}
