export { migrate, MigrationChecksumError, type MigrateOptions } from './migrate.ts'
export { MIGRATIONS_DIRECTORY, readMigrationFiles, type MigrationFile } from './migration-files.ts'
