import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planHost } from '../../../src/dev/host.js';

const machine = { hostname: 'build-7', addresses: ['127.0.0.1', '10.1.2.3', '::1', 'fe80::1'] };

test('loopback: URLs on localhost, the certificate names localhost and the loopback addresses', () => {
  for (const h of ['127.0.0.1', 'localhost', '::1'])
    assert.deepEqual(planHost(h, machine), {
      urlHost: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
});

test('a specific address or name: URLs use it (localhost would not answer), the certificate names it', () => {
  assert.deepEqual(planHost('10.1.2.3', machine), {
    urlHost: '10.1.2.3',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1', '10.1.2.3'],
  });
  assert.equal(planHost('127.0.0.2', machine).urlHost, '127.0.0.2');
  assert.deepEqual(planHost('fd00::5', machine), {
    urlHost: '[fd00::5]',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1', 'fd00::5'],
  });
  assert.deepEqual(planHost('Dev.Example.com', machine), {
    urlHost: 'dev.example.com',
    dnsNames: ['localhost', 'dev.example.com'],
    ipAddresses: ['127.0.0.1', '::1'],
  });
});

test('all interfaces: URLs on localhost; the certificate also names the machine and each of its addresses', () => {
  for (const h of ['0.0.0.0', '::'])
    assert.deepEqual(planHost(h, machine), {
      urlHost: 'localhost',
      dnsNames: ['localhost', 'build-7'],
      ipAddresses: ['127.0.0.1', '::1', '10.1.2.3', 'fe80::1'],
    });
});
