import type { DevIdentityProvider } from '@image-service/devstack'
import { roundRobin, type Seeder } from './seed.ts'

/** One owner of the working set: the `authorization` header its requests carry, and its images. */
export type BenchOwner = { subject: string; authorization: string; imageIds: string[] }

// Longer than any run (a full one takes minutes), so no token expires mid-measurement.
const TOKEN_LIFETIME_SECONDS = 4 * 3600

/**
 * `ownerCount` owners with a token each from the dev identity provider, and `imageCount`
 * ready images dealt out among them in turn. A scenario's requests rotate over the owners,
 * and a download asks only for images of the owner whose token it carries.
 */
export async function seedOwners(
  identity: Pick<DevIdentityProvider, 'token'>,
  seeder: Seeder,
  options: { ownerCount: number; imageCount: number },
): Promise<BenchOwner[]> {
  const subjects = Array.from({ length: options.ownerCount }, (_, i) => `bench-owner-${i + 1}`)
  const owners = roundRobin(subjects, options.imageCount)
  const ids = await seeder.ready(owners)
  return Promise.all(
    subjects.map(async (subject) => ({
      subject,
      authorization: `Bearer ${await identity.token({ subject, expiresInSeconds: TOKEN_LIFETIME_SECONDS })}`,
      imageIds: ids.filter((_, i) => owners[i] === subject),
    })),
  )
}
