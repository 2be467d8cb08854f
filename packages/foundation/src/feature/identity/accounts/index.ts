export { accountTables, authAccounts, authJwks, authSessions, authUsers, authVerifications } from './account-tables.ts'
