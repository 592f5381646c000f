import { describe, expectTypeOf, it } from 'vitest';
import { type CustomResource, type CustomResourceInput, defineCrd, type ObjectMeta, z } from '../../src/index.js';

const StoreCrd = defineCrd({
  group: 'acme.example.com',
  kind: 'Store',
  versions: [
    {
      name: 'v1alpha1',
      spec: z.object({ size: z.string() }),
    },
    {
      name: 'v1',
      spec: z.object({
        version: z.string(),
        replicas: z.number().int().min(1).default(1),
        tier: z.enum(['hot', 'cold']).default('hot'),
        tags: z.array(z.string()).optional(),
      }),
      status: z.object({ phase: z.enum(['Pending', 'Running']).default('Pending'), observedGeneration: z.number().int().optional() }),
    },
  ],
} as const);

type Store = CustomResource<typeof StoreCrd, 'v1'>;
type StoreInput = CustomResourceInput<typeof StoreCrd, 'v1'>;

describe('types for operator authors', () => {
  it('an input resource leaves fields with defaults optional; the stored resource has them', () => {
    expectTypeOf<StoreInput['spec']>().toEqualTypeOf<{
      version: string;
      replicas?: number | undefined;
      tier?: 'hot' | 'cold' | undefined;
      tags?: string[] | undefined;
    }>();
    expectTypeOf<Store['spec']>().toEqualTypeOf<{ version: string; replicas: number; tier: 'hot' | 'cold'; tags?: string[] | undefined }>();
    expectTypeOf<NonNullable<StoreInput['status']>['phase']>().toEqualTypeOf<'Pending' | 'Running' | undefined>();
    expectTypeOf<NonNullable<Store['status']>['phase']>().toEqualTypeOf<'Pending' | 'Running'>();
  });

  it('builds a custom resource in a test with only the required fields, and the schema gives the stored form', () => {
    const input: StoreInput = { apiVersion: 'acme.example.com/v1', kind: 'Store', metadata: { name: 's' }, spec: { version: '2.0' } };
    const spec = StoreCrd.versions[1].spec.parse(input.spec);
    expectTypeOf(spec).toEqualTypeOf<Store['spec']>();
    // @ts-expect-error `version` has no default: it is required
    const missing: StoreInput = { apiVersion: 'acme.example.com/v1', kind: 'Store', metadata: { name: 's' }, spec: {} };
    // @ts-expect-error the stored form has the defaulted fields
    const stored: Store = { apiVersion: 'acme.example.com/v1', kind: 'Store', metadata: { name: 's' }, spec: { version: '2.0' } };
    // @ts-expect-error the apiVersion names the version
    const wrong: StoreInput = { apiVersion: 'acme.example.com/v2', kind: 'Store', metadata: { name: 's' }, spec: { version: '2.0' } };
    void [missing, stored, wrong];
  });

  it('selects a version, or any of them', () => {
    type Old = CustomResourceInput<typeof StoreCrd, 'v1alpha1'>;
    expectTypeOf<Old['spec']>().toEqualTypeOf<{ size: string }>();
    expectTypeOf<CustomResource<typeof StoreCrd>['apiVersion']>().toEqualTypeOf<'acme.example.com/v1alpha1' | 'acme.example.com/v1'>();
  });

  it('has the full object metadata an operator reads and writes', () => {
    const s: Store = {
      apiVersion: 'acme.example.com/v1',
      kind: 'Store',
      metadata: {
        name: 's',
        namespace: 'acme-prod',
        uid: '4b3c1f0e-0000-4000-8000-000000000001',
        resourceVersion: '12345',
        generation: 3,
        creationTimestamp: '2026-01-01T00:00:00Z',
        labels: { app: 'store' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'acme-operator', uid: 'u', controller: true, blockOwnerDeletion: true }],
        finalizers: ['acme.example.com/cleanup'],
      },
      spec: { version: '2.0', replicas: 1, tier: 'cold' },
      status: { phase: 'Running', observedGeneration: 3 },
    };
    expectTypeOf(s.metadata).toEqualTypeOf<ObjectMeta>();
    expectTypeOf(s.metadata.generation).toEqualTypeOf<number | undefined>();
    expectTypeOf(s.metadata.finalizers).toEqualTypeOf<string[] | undefined>();
    // @ts-expect-error an owner reference needs the owner's uid
    const noUid: ObjectMeta = { name: 'x', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'c' }] };
    void noUid;
  });
});
