import { ForbiddenError } from '../../../shared/identity/authentication-error.ts'
import { type RequestContext, requireUser } from '../../../shared/identity/request-context.ts'
import type { ImageRepository } from '../../../shared/image/image-repository.ts'
import type { OwnerUsage, QuotaLimits } from '../../../shared/image/usage.ts'
import type { ErasureProgress } from '../../lifecycle/owner-erasure.ts'

/** `erasure`: the owner's latest erasure (owner/erase), when one was asked for. */
export type Usage = OwnerUsage & QuotaLimits & { erasure?: ErasureProgress }

/** Query: what the caller's images hold against the quota (or, for an admin, one owner's). */
export function createGetUsage(deps: {
  images: ImageRepository
  quota: QuotaLimits
  erasureOf?: (ownerId: string) => Promise<ErasureProgress | null>
}) {
  return async (ctx: RequestContext, query: { ownerId?: string | undefined } = {}): Promise<Usage> => {
    const actor = requireUser(ctx)
    if (query.ownerId !== undefined && query.ownerId !== actor.ownerId && !actor.admin) {
      throw new ForbiddenError('owner_id is for images:admin callers')
    }
    const ownerId = query.ownerId ?? actor.ownerId
    const [usage, erasure] = await Promise.all([deps.images.usageOf(ownerId), deps.erasureOf?.(ownerId) ?? null])
    return { ...usage, maxImages: deps.quota.maxImages, maxBytes: deps.quota.maxBytes, ...(erasure === null ? {} : { erasure }) }
  }
}

export type GetUsage = ReturnType<typeof createGetUsage>
