/**
 * Redis Cluster hash tags and the REDIS_CLUSTER_NODES setting: the queues' prefix gets braces when it
 * has no tag, a limiter's own tag wins over the prefix's braces, and a malformed node list is refused
 * with a message that names the variable and the form.
 */
import { describe, expect, it } from 'vitest';
import { hashTagOf, withHashTag, withoutHashTag } from '../../domain/redis-keys.js';
import { parseSettings } from '../../domain/settings.js';
import { ValidationError } from '../../domain/errors.js';
import { parseClusterNodes, redisSettings } from '../../queues/connection.js';

describe('hash tags', () => {
  it('finds the tag Redis hashes: the first non-empty {…}', () => {
    expect(hashTagOf('m365sync')).toBeUndefined();
    expect(hashTagOf('{m365sync}:tenant-sync:wait')).toBe('m365sync');
    expect(hashTagOf('acme{sync}x{y}')).toBe('sync');
    expect(hashTagOf('a{}b{c}')).toBeUndefined(); // Redis: an empty first tag means the whole key
  });

  it('wraps a prefix without a tag, keeps one that has it', () => {
    expect(withHashTag('m365sync')).toBe('{m365sync}');
    expect(withHashTag('{m365sync}')).toBe('{m365sync}');
    expect(withHashTag('acme{sync}')).toBe('acme{sync}');
    expect(withoutHashTag('{m365sync}')).toBe('m365sync');
  });
});

describe('REDIS_CLUSTER_NODES', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379', M365SYNC_QUEUE_PREFIX: 'm365sync' };

  it('without it: one server, the prefix as given', () => {
    expect(redisSettings(base)).toEqual({ url: base.REDIS_URL, prefix: 'm365sync' });
  });

  it('with it: the nodes, and the prefix wrapped for the queues', () => {
    const settings = redisSettings({
      ...base,
      REDIS_CLUSTER_NODES: '127.0.0.1:30001, redis-1.redis:6379',
    });
    expect(settings).toEqual({
      url: base.REDIS_URL,
      prefix: '{m365sync}',
      clusterNodes: [
        { host: '127.0.0.1', port: 30001 },
        { host: 'redis-1.redis', port: 6379 },
      ],
    });
  });

  it.each([
    '127.0.0.1',
    '127.0.0.1:',
    'redis://127.0.0.1:30001',
    '127.0.0.1:30001,,127.0.0.1:30002',
    'a:1 b:2',
  ])('refuses %j, naming the variable and the form', (value) => {
    expect(() => parseSettings({ REDIS_CLUSTER_NODES: value })).toThrow(ValidationError);
    expect(() => parseSettings({ REDIS_CLUSTER_NODES: value })).toThrow(/REDIS_CLUSTER_NODES.*host:port/s);
  });

  it('refuses a port out of range where the pattern cannot', () => {
    expect(() => parseClusterNodes('127.0.0.1:70000')).toThrow(/REDIS_CLUSTER_NODES.*"127\.0\.0\.1:70000"/s);
  });
});
