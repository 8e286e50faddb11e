// core/telemetry.ts's agentResource: a resource made without @opentelemetry/resources (loading it
// costs start-up), read by tapwire's exporters and handed to the SDK where the SDK is loaded. It
// must read and merge as the SDK's own does.
import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/index.js';
import { agentResource } from '../core/telemetry.js';

const env = {
  OTEL_SERVICE_NAME: 'checkout',
  OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=shop,deployment.environment.name=staging,host.name=a',
  TAPWIRE_ENV: 'production',
};

describe('agentResource', () => {
  const resource = agentResource(loadConfig(env).config);

  it('has the attributes the SDK resource made from the same attributes has', () => {
    const sdk = resourceFromAttributes({ ...resource.attributes });
    expect(resource.attributes).toEqual(sdk.attributes);
    expect(resource.getRawAttributes()).toEqual(sdk.getRawAttributes());
    expect(resource.attributes).toMatchObject({
      'service.name': 'checkout',
      'service.namespace': 'shop',
      'telemetry.sdk.name': 'tapwire',
      'process.pid': process.pid,
    });
    expect(resource.asyncAttributesPending).toBe(false);
  });

  it('merges as the SDK does: the other resource wins, either way round', () => {
    const other = resourceFromAttributes({ 'service.name': 'other', 'k8s.pod.name': 'p-1' });
    const ours = resource.merge(other);
    const sdks = resourceFromAttributes({ ...resource.attributes }).merge(other);
    expect(ours.attributes).toEqual(sdks.attributes);
    expect(ours.attributes['service.name']).toBe('other');
    expect(other.merge(resource).attributes).toEqual(
      other.merge(resourceFromAttributes({ ...resource.attributes })).attributes,
    );
    expect(resource.merge(null)).toBe(resource);
  });

  it('drops what is not an attribute value, as the SDK does', () => {
    const odd = resourceFromAttributes({ '': 'empty key', nested: { x: 1 } as never, ok: [1, 2] });
    const r = resource.merge(odd);
    const sdk = resourceFromAttributes({ ...resource.attributes }).merge(odd);
    expect(Object.keys(r.attributes).sort()).toEqual(Object.keys(sdk.attributes).sort());
    expect(r.attributes.ok).toEqual([1, 2]);
  });

  it('keeps and drops arrays and empty values as the SDK does (mixed types, nulls)', () => {
    const attributes = {
      mixed: ['a', 1],
      mixedLater: [1, null, 'a'],
      withNulls: ['a', null, 'b'],
      allNull: [null, undefined],
      empty: [],
      none: null,
      nested: [{ x: 1 }],
      text: 'x',
    };
    // A resource that is not the SDK's (another library's), so that the attributes reach the merge
    // unfiltered; and the same through the SDK's own constructor.
    const foreign = {
      attributes,
      asyncAttributesPending: false,
      getRawAttributes: () => Object.entries(attributes),
      merge: () => foreign,
      waitForAsyncAttributes: async () => {},
    } as never;
    const sdk = resourceFromAttributes({ ...resource.attributes }).merge(foreign);
    expect(resource.merge(foreign).attributes).toEqual(sdk.attributes);
    expect(Object.keys(sdk.attributes)).toEqual(
      expect.arrayContaining(['withNulls', 'allNull', 'empty', 'text']),
    );
    expect(Object.keys(sdk.attributes)).not.toEqual(expect.arrayContaining(['mixed']));
  });
});
