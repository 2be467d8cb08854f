export * from './derive-variants.ts'
export * from './variant-config.ts'
