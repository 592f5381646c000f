import { describe, expectTypeOf, it } from 'vitest';
import { type CustomResource, defineCrd, defineSolution, type SolutionInput, z } from '../../src/index.js';

const StoreCrd = defineCrd({
  group: 'acme.example.com',
  kind: 'Store',
  versions: [
    {
      name: 'v1',
      spec: z.object({ replicas: z.number().int(), tier: z.enum(['hot', 'cold']), tags: z.array(z.string()).optional() }),
      status: z.object({ ready: z.boolean() }),
    },
  ],
} as const);

describe('types a vendor relies on', () => {
  it('infers the custom resource type from the zod schema', () => {
    type Store = CustomResource<typeof StoreCrd>;
    expectTypeOf<Store['spec']>().toEqualTypeOf<{ replicas: number; tier: 'hot' | 'cold'; tags?: string[] | undefined }>();
    expectTypeOf<Store['apiVersion']>().toEqualTypeOf<'acme.example.com/v1'>();
    expectTypeOf<Store['kind']>().toEqualTypeOf<'Store'>();
    expectTypeOf<NonNullable<Store['status']>>().toEqualTypeOf<{ ready: boolean }>();
  });

  it('rejects a misspelt field at compile time', () => {
    const input = {
      name: 'acme',
      version: '1.0.0',
      operator: { image: 'acme-operator' },
      images: [{ name: 'acme-operator', tag: '1.0.0', source: { kind: 'registry', reference: 'r.example.com/a:1' } }],
    } as const;
    expectTypeOf(input).toExtend<SolutionInput>();
    // @ts-expect-error `storageclasses` is not a field (it is `storageClasses`)
    defineSolution({ ...input, storageclasses: [] });
    // @ts-expect-error `fsType` must be ext4 or xfs
    defineSolution({ ...input, storageClasses: [{ name: 'acme-x', fsType: 'btrfs' }] });
    // @ts-expect-error an image source needs a known kind
    defineSolution({ ...input, images: [{ name: 'a', tag: '1', source: { kind: 'ftp', reference: 'x' } }] });
  });
});
