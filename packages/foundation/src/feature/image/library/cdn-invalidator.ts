/**
 * Port: tells the CDN to forget cached copies of objects (a deleted image must not stay
 * servable from an edge cache). Paths are object keys with a leading slash.
 */
export interface CdnInvalidator {
  invalidate(paths: readonly string[]): Promise<void>
}
